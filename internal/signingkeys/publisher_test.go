package signingkeys

import (
	"bytes"
	"context"
	"errors"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/cellplane/cellplane/internal/account"
	"github.com/cellplane/cellplane/internal/ekstoken"
	"github.com/cellplane/cellplane/internal/sigv4"
	"github.com/cellplane/cellplane/internal/store/storetest"
)

var env storetest.Env

func TestMain(m *testing.M) { storetest.Main(m, &env) }

// TestPublishAndWithdraw runs the publisher on the real store: an active key
// is published for three days, never with its secret; a deactivated or
// deleted key is withdrawn by the next sync of it; a token signed with the
// key verifies through a Reader of what was published, and stops verifying
// once the key is withdrawn.
func TestPublishAndWithdraw(t *testing.T) {
	ctx := context.Background()
	c := env.Client(t)
	t.Cleanup(func() {
		_ = c.DeleteAllOf(ctx, &corev1.Secret{}, client.InNamespace(Namespace))
	})
	accounts := &account.Store{Client: c, Key: bytes.Repeat([]byte{7}, account.MasterKeySize)}
	acct, key, err := accounts.CreateAccount(ctx, "signing")
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 12, 2, 23, 59, 0, 0, time.UTC)
	p := &Publisher{Accounts: accounts, Client: c, Region: "local", Now: func() time.Time { return now }}
	if err := p.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	var s corev1.Secret
	if err := c.Get(ctx, client.ObjectKey{Namespace: Namespace, Name: Name(key.AccessKeyID)}, &s); err != nil {
		t.Fatal(err)
	}
	k := FromSecret(&s)
	if k.Account != acct.ID || k.Principal != account.AdminUserARN(acct.ID) || len(k.Days) != 3 {
		t.Fatalf("published %+v", k)
	}
	for name, v := range s.Data {
		if bytes.Contains(v, []byte(key.SecretAccessKey)) {
			t.Fatalf("the secret is published in %s", name)
		}
	}
	if want := sigv4.SigningKey(key.SecretAccessKey, "20261203", "local", "sts"); !bytes.Equal(k.Days["20261203"], want) {
		t.Fatal("tomorrow's key is not the secret's signing key")
	}

	v := &ekstoken.Verifier{Keys: Reader{Client: c}, Region: "local", Now: func() time.Time { return now }}
	token := ekstoken.Generate(ekstoken.Credentials{AccessKeyID: key.AccessKeyID, SecretAccessKey: key.SecretAccessKey}, "one", "local", now)
	id, err := v.Verify(token, "one")
	if err != nil || id.PrincipalARN != account.AdminUserARN(acct.ID) {
		t.Fatalf("Verify = %+v, %v", id, err)
	}

	if _, err := accounts.SetAccessKeyStatus(ctx, acct.ID, key.AccessKeyID, account.KeyInactive); err != nil {
		t.Fatal(err)
	}
	if err := p.SyncKey(ctx, key.AccessKeyID); err != nil {
		t.Fatal(err)
	}
	if _, err := v.Verify(token, "one"); !errors.Is(err, ekstoken.ErrUnknownKey) {
		t.Fatalf("deactivated key: %v", err)
	}
	if _, err := accounts.SetAccessKeyStatus(ctx, acct.ID, key.AccessKeyID, account.KeyActive); err != nil {
		t.Fatal(err)
	}
	if err := p.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := v.Verify(token, "one"); err != nil {
		t.Fatalf("reactivated key: %v", err)
	}
	// Deleted with its account: the full sync withdraws what it no longer finds.
	if err := accounts.DeleteAccount(ctx, acct.ID); err != nil {
		t.Fatal(err)
	}
	if err := p.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := v.Verify(token, "one"); !errors.Is(err, ekstoken.ErrUnknownKey) {
		t.Fatalf("deleted key: %v", err)
	}
}

func TestDays(t *testing.T) {
	got := Days(time.Date(2027, 1, 1, 0, 30, 0, 0, time.FixedZone("x", 3600)))
	if want := []string{"20261230", "20261231", "20270101"}; !equal(got, want) {
		t.Fatalf("Days = %v, want %v", got, want)
	}
}

func equal(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
