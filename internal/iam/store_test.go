package iam

import (
	"bytes"
	"context"
	"errors"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/cellplane/cellplane/internal/account"
	"github.com/cellplane/cellplane/internal/errdefs"
	"github.com/cellplane/cellplane/internal/store/storetest"
)

var env storetest.Env

func TestMain(m *testing.M) { storetest.Main(m, &env) }

// newStore returns a Store on the real management store, its namespace
// emptied before and after the test (tests share it and do not run in
// parallel), with one account.
func newStore(t *testing.T) (*Store, client.Client, string) {
	t.Helper()
	c := env.Client(t)
	clear := func() {
		ctx := context.Background()
		if err := c.DeleteAllOf(ctx, &corev1.Secret{}, client.InNamespace(account.Namespace)); err != nil {
			t.Fatalf("clearing secrets: %v", err)
		}
		if err := c.DeleteAllOf(ctx, &corev1.ConfigMap{}, client.InNamespace(account.Namespace)); err != nil {
			t.Fatalf("clearing configmaps: %v", err)
		}
	}
	clear()
	t.Cleanup(clear)
	s := &Store{Client: c, Accounts: &account.Store{Client: c, Key: bytes.Repeat([]byte{1}, account.MasterKeySize)}}
	a, _, err := s.CreateAccount(context.Background(), "team-a")
	if err != nil {
		t.Fatalf("CreateAccount: %v", err)
	}
	return s, c, a.ID
}

func count(t *testing.T, c client.Client) int {
	t.Helper()
	var list corev1.ConfigMapList
	if err := c.List(context.Background(), &list, client.InNamespace(account.Namespace)); err != nil {
		t.Fatal(err)
	}
	return len(list.Items)
}

func TestUsersAndKeys(t *testing.T) {
	ctx := context.Background()
	s, c, acct := newStore(t)
	users, err := s.ListUsers(ctx, acct)
	if err != nil || len(users) != 1 || users[0].ARN != account.AdminUserARN(acct) || users[0].UserID == "" {
		t.Fatalf("a new account's users = %+v, %v; want only admin", users, err)
	}
	alice, err := s.CreateUser(ctx, acct, "Alice.Dev@team")
	if err != nil || alice.ARN != "arn:aws:iam::"+acct+":user/Alice.Dev@team" {
		t.Fatalf("CreateUser = %+v, %v", alice, err)
	}
	before := count(t, c)
	bad := []struct {
		name, account, user string
		want                error
	}{
		{"same name, other case", acct, "alice.dev@team", errdefs.ErrAlreadyExists},
		{"empty name", acct, "", errdefs.ErrInvalidParameter},
		{"slash", acct, "a/b", errdefs.ErrInvalidParameter},
		{"space", acct, "a b", errdefs.ErrInvalidParameter},
		{"65 characters", acct, string(bytes.Repeat([]byte("a"), 65)), errdefs.ErrInvalidParameter},
		{"unknown account", "999999999999", "bob", errdefs.ErrNotFound},
		{"malformed account", "12", "bob", errdefs.ErrInvalidParameter},
	}
	for _, tt := range bad {
		if _, err := s.CreateUser(ctx, tt.account, tt.user); !errors.Is(err, tt.want) {
			t.Errorf("%s: CreateUser = %v; want %v", tt.name, err, tt.want)
		}
	}
	if after := count(t, c); after != before {
		t.Fatalf("bad input stored objects: %d before, %d after", before, after)
	}

	k1, err := s.CreateAccessKey(ctx, acct, "alice.dev@team")
	if err != nil || k1.Principal != alice.ARN {
		t.Fatalf("CreateAccessKey = %+v, %v", k1, err)
	}
	creds, err := s.Accounts.Lookup(ctx, k1.AccessKeyID)
	if err != nil || creds.Principal != alice.ARN || creds.Account != acct {
		t.Fatalf("Lookup of the user's key = %+v, %v", creds, err)
	}
	// Two keys per user: the admin's key does not count against alice's.
	if _, err := s.CreateAccessKey(ctx, acct, alice.Name); err != nil {
		t.Fatalf("second key: %v", err)
	}
	if _, err := s.CreateAccessKey(ctx, acct, alice.Name); !errors.Is(err, errdefs.ErrLimitExceeded) {
		t.Fatalf("third key: %v; want ErrLimitExceeded", err)
	}
	if _, err := s.CreateAccessKey(ctx, acct, "nobody"); !errors.Is(err, errdefs.ErrNotFound) {
		t.Fatalf("key of an unknown user: %v", err)
	}
	if err := s.DeleteUser(ctx, acct, alice.Name); !errors.Is(err, errdefs.ErrInvalidRequest) {
		t.Fatalf("DeleteUser with keys = %v; want ErrInvalidRequest", err)
	}
	if err := s.DeleteUser(ctx, acct, AdminUserName); !errors.Is(err, errdefs.ErrInvalidRequest) {
		t.Fatalf("DeleteUser admin = %v; want ErrInvalidRequest", err)
	}
	adminKeys, _ := s.Accounts.ListAccessKeys(ctx, acct)
	var adminKey string
	for _, k := range adminKeys {
		if k.Principal == account.AdminUserARN(acct) {
			adminKey = k.AccessKeyID
		}
	}
	if err := s.DeleteAccessKey(ctx, acct, alice.Name, adminKey); !errors.Is(err, errdefs.ErrNotFound) {
		t.Fatalf("deleting the admin's key as alice's = %v; want ErrNotFound", err)
	}
	keys, err := s.ListAccessKeys(ctx, acct, alice.Name)
	if err != nil || len(keys) != 2 {
		t.Fatalf("ListAccessKeys = %v, %v", keys, err)
	}
	for _, k := range keys {
		if err := s.DeleteAccessKey(ctx, acct, alice.Name, k.AccessKeyID); err != nil {
			t.Fatalf("DeleteAccessKey: %v", err)
		}
	}
	if err := s.DeleteUser(ctx, acct, alice.Name); err != nil {
		t.Fatalf("DeleteUser: %v", err)
	}
	if _, err := s.GetUser(ctx, acct, alice.Name); !errors.Is(err, errdefs.ErrNotFound) {
		t.Fatalf("GetUser after delete = %v", err)
	}
}

// An account made before users existed has no admin record; reading it makes it.
func TestAdminRepaired(t *testing.T) {
	ctx := context.Background()
	s, c, acct := newStore(t)
	if err := c.DeleteAllOf(ctx, &corev1.ConfigMap{}, client.InNamespace(account.Namespace)); err != nil {
		t.Fatal(err)
	}
	if err := s.EnsureAdmins(ctx); err != nil {
		t.Fatalf("EnsureAdmins: %v", err)
	}
	u, err := s.GetUser(ctx, acct, AdminUserName)
	if err != nil || u.ARN != account.AdminUserARN(acct) {
		t.Fatalf("admin = %+v, %v", u, err)
	}
	if err := s.EnsureAdmins(ctx); err != nil || count(t, c) != 1 {
		t.Fatalf("EnsureAdmins again: %v, %d objects", err, count(t, c))
	}
}

func TestRolesAndTrust(t *testing.T) {
	ctx := context.Background()
	s, c, acct := newStore(t)
	other, _, err := s.CreateAccount(ctx, "team-b")
	if err != nil {
		t.Fatal(err)
	}
	dev, _ := s.CreateUser(ctx, acct, "dev")
	admin := account.AdminUserARN(acct)
	before := count(t, c)
	bad := map[string][]string{
		"other account's user":  {account.AdminUserARN(other.ID)},
		"unknown user":          {ARN(acct, KindUser, "ghost")},
		"malformed":             {"dev"},
		"user with a path":      {"arn:aws:iam::" + acct + ":user/team/dev"},
		"sts session":           {"arn:aws:sts::" + acct + ":assumed-role/r/s"},
		"one good, one unknown": {dev.ARN, ARN(acct, KindRole, "ghost")},
	}
	for name, trust := range bad {
		if _, err := s.CreateRole(ctx, acct, "deploy", trust); !errors.Is(err, errdefs.ErrInvalidParameter) {
			t.Errorf("%s: CreateRole = %v; want ErrInvalidParameter", name, err)
		}
	}
	if _, err := s.CreateRole(ctx, acct, "bad name!", nil); !errors.Is(err, errdefs.ErrInvalidParameter) {
		t.Errorf("bad role name: %v", err)
	}
	if after := count(t, c); after != before {
		t.Fatalf("bad input stored objects: %d before, %d after", before, after)
	}

	deploy, err := s.CreateRole(ctx, acct, "deploy", []string{dev.ARN, dev.ARN})
	if err != nil || len(deploy.Trust) != 1 || !deploy.Trust[0].Current || deploy.ARN != ARN(acct, KindRole, "deploy") {
		t.Fatalf("CreateRole = %+v, %v", deploy, err)
	}
	if _, err := s.CreateRole(ctx, acct, "DEPLOY", nil); !errors.Is(err, errdefs.ErrAlreadyExists) {
		t.Fatalf("same role name, other case: %v", err)
	}
	if r, err := s.Assumable(ctx, deploy.ARN, dev.ARN); err != nil || r.RoleID != deploy.RoleID {
		t.Fatalf("trusted user: %+v, %v", r, err)
	}
	denied := map[string][2]string{
		"untrusted user":          {deploy.ARN, admin},
		"other account's user":    {deploy.ARN, account.AdminUserARN(other.ID)},
		"unknown role":            {ARN(acct, KindRole, "ghost"), dev.ARN},
		"role of another account": {ARN(other.ID, KindRole, "deploy"), dev.ARN},
		"not a principal":         {deploy.ARN, "anonymous"},
	}
	for name, tt := range denied {
		if _, err := s.Assumable(ctx, tt[0], tt[1]); !errors.Is(err, ErrAccessDenied) {
			t.Errorf("%s: Assumable = %v; want ErrAccessDenied", name, err)
		}
	}
	if _, err := s.Assumable(ctx, "arn:aws:iam::"+acct+":user/dev", dev.ARN); !errors.Is(err, errdefs.ErrInvalidParameter) {
		t.Errorf("a user ARN as the role: %v", err)
	}

	// Role chaining: a session of deploy may assume ops, which trusts deploy.
	ops, err := s.CreateRole(ctx, acct, "ops", []string{deploy.ARN})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Assumable(ctx, ops.ARN, "arn:aws:sts::"+acct+":assumed-role/deploy/s1"); err != nil {
		t.Fatalf("chained: %v", err)
	}

	// A user deleted and made again is another principal: not trusted.
	if err := s.DeleteUser(ctx, acct, "dev"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.CreateUser(ctx, acct, "dev"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Assumable(ctx, deploy.ARN, dev.ARN); !errors.Is(err, ErrAccessDenied) {
		t.Fatalf("a namesake of a deleted user: %v; want ErrAccessDenied", err)
	}
	if r, _ := s.GetRole(ctx, acct, "deploy"); len(r.Trust) != 1 || r.Trust[0].Current {
		t.Fatalf("stale entry not marked: %+v", r.Trust)
	}
	if _, err := s.SetTrust(ctx, acct, "deploy", []string{dev.ARN, admin}); err != nil {
		t.Fatalf("SetTrust: %v", err)
	}
	if _, err := s.Assumable(ctx, deploy.ARN, admin); err != nil {
		t.Fatalf("trusted after SetTrust: %v", err)
	}
	if _, err := s.SetTrust(ctx, acct, "deploy", []string{"junk"}); !errors.Is(err, errdefs.ErrInvalidParameter) {
		t.Fatalf("SetTrust with junk: %v", err)
	}
	if _, err := s.Assumable(ctx, deploy.ARN, admin); err != nil {
		t.Fatalf("a refused SetTrust changed the role: %v", err)
	}
	roles, err := s.ListRoles(ctx, acct)
	if err != nil || len(roles) != 2 || roles[0].Name != "deploy" {
		t.Fatalf("ListRoles = %+v, %v", roles, err)
	}
	if err := s.DeleteRole(ctx, acct, "deploy"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Assumable(ctx, deploy.ARN, admin); !errors.Is(err, ErrAccessDenied) {
		t.Fatalf("deleted role: %v", err)
	}

	if err := s.DeleteAccount(ctx, acct); err != nil {
		t.Fatalf("DeleteAccount: %v", err)
	}
	var list corev1.ConfigMapList
	_ = c.List(ctx, &list, client.MatchingLabels{account.LabelAccount: acct})
	if len(list.Items) != 0 {
		t.Fatalf("%d principals left after DeleteAccount", len(list.Items))
	}
}

func TestParseARN(t *testing.T) {
	good := map[string]Principal{
		"arn:aws:iam::123456789012:user/admin":   {"123456789012", KindUser, "admin"},
		"arn:aws:iam::123456789012:role/a+b=c@d": {"123456789012", KindRole, "a+b=c@d"},
	}
	for arn, want := range good {
		if p, err := ParseARN(arn); err != nil || p != want || p.ARN() != arn {
			t.Errorf("ParseARN(%s) = %+v, %v", arn, p, err)
		}
	}
	for _, arn := range []string{"", "arn:aws:iam::12345678901:user/a", "arn:aws:iam::123456789012:group/a",
		"arn:aws:iam::123456789012:user/", "arn:aws:iam::123456789012:user/a/b", "arn:aws:sts::123456789012:assumed-role/a/b"} {
		if _, err := ParseARN(arn); !errors.Is(err, errdefs.ErrInvalidParameter) {
			t.Errorf("ParseARN(%q) = %v", arn, err)
		}
	}
	if r, ok := RoleOfSession("arn:aws:sts::123456789012:assumed-role/deploy/s1"); !ok || r != "arn:aws:iam::123456789012:role/deploy" {
		t.Errorf("RoleOfSession = %s %v", r, ok)
	}
	for _, arn := range []string{"arn:aws:iam::123456789012:user/a", "arn:aws:sts::1:assumed-role/a/b", "arn:aws:sts::123456789012:assumed-role/a"} {
		if _, ok := RoleOfSession(arn); ok {
			t.Errorf("RoleOfSession(%s) ok", arn)
		}
	}
}
