package api

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"net/url"
	"slices"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/cellplane/cellplane/api/v1alpha1"
	"github.com/cellplane/cellplane/internal/account"
	"github.com/cellplane/cellplane/internal/eks"
	"github.com/cellplane/cellplane/internal/region/accessentries"
)

// knownPrincipals is an IAM store holding exactly the listed ARNs.
type knownPrincipals []string

func (k *knownPrincipals) Exists(_ context.Context, arn string) (bool, error) {
	return slices.Contains(*k, arn), nil
}

func withPrincipals(p accessentries.Principals) harnessOption {
	return func(s *harnessSetup) { s.cfg.Principals = p }
}

func (h *harness) userARN(name string) string { return account.UserARN(h.account, name) }
func (h *harness) roleARN(name string) string {
	return "arn:aws:iam::" + h.account + ":role/" + name
}

// entryPath is the path of an entry, its ARN escaped as the SDKs escape it.
func entryPath(cluster, principal string) string {
	return "/clusters/" + cluster + "/access-entries/" + url.PathEscape(principal)
}

func (r response) accessEntry(t *testing.T) *eks.AccessEntry {
	t.Helper()
	if r.status != 200 {
		t.Fatalf("status %d: %s", r.status, r.body)
	}
	var out eks.AccessEntryOutput
	if err := json.Unmarshal(r.body, &out); err != nil || out.AccessEntry == nil {
		t.Fatalf("decoding %s: %v", r.body, err)
	}
	return out.AccessEntry
}

// decode decodes a 200 answer into out.
func (r response) decode(t *testing.T, out any) {
	t.Helper()
	if r.status != 200 {
		t.Fatalf("status %d: %s", r.status, r.body)
	}
	if err := json.Unmarshal(r.body, out); err != nil {
		t.Fatalf("decoding %s: %v", r.body, err)
	}
}

// entries returns the stored access entries of the harness's account, by
// object name, with their resourceVersions: what a refused call must leave as
// it was.
func (h *harness) entries() map[string]string {
	h.t.Helper()
	var l v1alpha1.AccessEntryList
	if err := h.store.List(context.Background(), &l, client.InNamespace(h.namespace())); err != nil {
		h.t.Fatal(err)
	}
	out := map[string]string{}
	for _, e := range l.Items {
		out[e.Name] = e.ResourceVersion
	}
	return out
}

func (h *harness) listEntries(cluster, query string) eks.ListAccessEntriesOutput {
	h.t.Helper()
	var out eks.ListAccessEntriesOutput
	h.do("GET", "/clusters/"+cluster+"/access-entries"+query, nil).decode(h.t, &out)
	return out
}

func TestAccessEntryLifecycle(t *testing.T) {
	h := newHarness(t)
	h.create(eks.CreateClusterInput{Name: "demo"})
	alice, ops := h.userARN("alice"), h.roleARN("ops")

	// The creator was bootstrapped as cluster admin.
	admin := account.AdminUserARN(h.account)
	boot := h.do("GET", entryPath("demo", admin), nil).accessEntry(t)
	if boot.Username != admin || boot.Type != "STANDARD" || boot.ClusterName != "demo" {
		t.Fatalf("bootstrap entry %+v", boot)
	}

	e := h.do("POST", "/clusters/demo/access-entries", eks.CreateAccessEntryInput{
		PrincipalArn: alice, KubernetesGroups: []string{"devs", "devs"}, Tags: map[string]string{"team": "a"},
	}).accessEntry(t)
	wantArn := fmt.Sprintf("arn:cellplane:eks:local:%s:access-entry/demo/user/%s/alice/", h.account, h.account)
	if e.PrincipalArn != alice || e.Username != alice || !slices.Equal(e.KubernetesGroups, []string{"devs"}) ||
		e.Type != "STANDARD" || e.Tags["team"] != "a" || e.CreatedAt == nil || e.ModifiedAt == nil ||
		!strings.HasPrefix(e.AccessEntryArn, wantArn) {
		t.Fatalf("created %+v", e)
	}
	role := h.do("POST", "/clusters/demo/access-entries", eks.CreateAccessEntryInput{PrincipalArn: ops}).accessEntry(t)
	if want := "arn:aws:sts::" + h.account + ":assumed-role/ops/{{SessionName}}"; role.Username != want {
		t.Fatalf("role username %q, want %q", role.Username, want)
	}
	if got := h.do("GET", entryPath("demo", alice), nil).accessEntry(t); got.AccessEntryArn != e.AccessEntryArn {
		t.Fatalf("describe %+v", got)
	}
	if got := h.listEntries("demo", ""); !slices.Equal(got.AccessEntries, []string{ops, admin, alice}) || got.NextToken != "" {
		t.Fatalf("list %+v", got)
	}

	// Update: username and groups; an empty list clears the groups.
	name := "alice-{{AccountID}}"
	u := h.do("POST", entryPath("demo", alice), map[string]any{"username": name, "kubernetesGroups": []string{"ops"}}).accessEntry(t)
	if u.Username != name || !slices.Equal(u.KubernetesGroups, []string{"ops"}) {
		t.Fatalf("updated %+v", u)
	}
	u = h.do("POST", entryPath("demo", alice), map[string]any{"kubernetesGroups": []string{}}).accessEntry(t)
	if u.Username != name || len(u.KubernetesGroups) != 0 {
		t.Fatalf("cleared groups %+v", u)
	}

	// Policies: associate, re-scope, list, filter, disassociate.
	view := "arn:aws:eks::aws:cluster-access-policy/AmazonEKSViewPolicy"
	var assoc eks.AssociateAccessPolicyOutput
	h.do("POST", entryPath("demo", alice)+"/access-policies", eks.AssociateAccessPolicyInput{
		PolicyArn: view, AccessScope: &eks.AccessScope{Type: "namespace", Namespaces: []string{"team-a", "dev-*"}},
	}).decode(t, &assoc)
	if assoc.ClusterName != "demo" || assoc.PrincipalArn != alice || assoc.AssociatedAccessPolicy.PolicyArn != view ||
		!slices.Equal(assoc.AssociatedAccessPolicy.AccessScope.Namespaces, []string{"team-a", "dev-*"}) || assoc.AssociatedAccessPolicy.AssociatedAt == nil {
		t.Fatalf("associate %+v", assoc)
	}
	h.do("POST", entryPath("demo", alice)+"/access-policies", eks.AssociateAccessPolicyInput{
		PolicyArn: view, AccessScope: &eks.AccessScope{Type: "cluster"},
	}).decode(t, &assoc)
	var listed eks.ListAssociatedAccessPoliciesOutput
	h.do("GET", entryPath("demo", alice)+"/access-policies", nil).decode(t, &listed)
	if len(listed.AssociatedAccessPolicies) != 1 || listed.AssociatedAccessPolicies[0].AccessScope.Type != "cluster" || listed.PrincipalArn != alice {
		t.Fatalf("associated %+v", listed)
	}
	if got := h.listEntries("demo", "?associatedPolicyArn="+url.QueryEscape(view)); !slices.Equal(got.AccessEntries, []string{alice}) {
		t.Fatalf("filtered by view: %v", got.AccessEntries)
	}
	if got := h.listEntries("demo", "?associatedPolicyArn="+url.QueryEscape(accessentries.ClusterAdminPolicy)); !slices.Equal(got.AccessEntries, []string{admin}) {
		t.Fatalf("filtered by cluster admin: %v", got.AccessEntries)
	}
	if r := h.do("DELETE", entryPath("demo", alice)+"/access-policies/"+url.PathEscape(view), nil); r.status != 200 {
		t.Fatalf("disassociate: %d %s", r.status, r.body)
	}
	h.do("GET", entryPath("demo", alice)+"/access-policies", nil).decode(t, &listed)
	if len(listed.AssociatedAccessPolicies) != 0 {
		t.Fatalf("after disassociate %+v", listed)
	}

	if r := h.do("DELETE", entryPath("demo", alice), nil); r.status != 200 {
		t.Fatalf("delete: %d %s", r.status, r.body)
	}
	h.do("GET", entryPath("demo", alice), nil).wantError(t, 404, eks.ResourceNotFoundException, "principalArn could not be found")
	if got := h.listEntries("demo", ""); !slices.Equal(got.AccessEntries, []string{ops, admin}) {
		t.Fatalf("after delete %v", got.AccessEntries)
	}

	// Stored objects carry what the agent and the cell's mirror select on.
	c := h.stored("demo")
	var l v1alpha1.AccessEntryList
	if err := h.store.List(context.Background(), &l, client.InNamespace(h.namespace())); err != nil {
		t.Fatal(err)
	}
	for _, o := range l.Items {
		if o.Labels[v1alpha1.LabelCluster] != c.Name || o.Labels[v1alpha1.LabelCell] != "cell-1" ||
			len(o.OwnerReferences) != 1 || o.OwnerReferences[0].UID != c.UID {
			t.Fatalf("entry %s: labels %v owners %v", o.Name, o.Labels, o.OwnerReferences)
		}
	}
}

func TestAccessEntryErrorsChangeNothing(t *testing.T) {
	iam := knownPrincipals{}
	h := newHarness(t, withPrincipals(&iam))
	bob := h.userARN("bob")
	iam = append(iam, bob)
	h.create(eks.CreateClusterInput{Name: "demo", AccessConfig: &eks.AccessConfig{BootstrapClusterCreatorAdminPermissions: ptr(false)}})
	h.do("POST", "/clusters/demo/access-entries", eks.CreateAccessEntryInput{PrincipalArn: bob}).accessEntry(t)
	view := "arn:aws:eks::aws:cluster-access-policy/AmazonEKSViewPolicy"
	scoped := func(typ string, ns ...string) eks.AssociateAccessPolicyInput {
		return eks.AssociateAccessPolicyInput{PolicyArn: view, AccessScope: &eks.AccessScope{Type: typ, Namespaces: ns}}
	}
	for _, tc := range []struct {
		name, method, path string
		body               any
		status             int
		typ, msg           string
	}{
		{"unknown principal", "POST", "/clusters/demo/access-entries", eks.CreateAccessEntryInput{PrincipalArn: h.userARN("nobody")}, 400, eks.InvalidParameterException, "no IAM user or role"},
		{"other account", "POST", "/clusters/demo/access-entries", eks.CreateAccessEntryInput{PrincipalArn: "arn:aws:iam::123456789012:user/x"}, 400, eks.InvalidParameterException, "another account"},
		{"session principal", "POST", "/clusters/demo/access-entries", eks.CreateAccessEntryInput{PrincipalArn: "arn:aws:sts::" + h.account + ":assumed-role/r/s"}, 400, eks.InvalidParameterException, "IAM user or role"},
		{"malformed principal", "POST", "/clusters/demo/access-entries", eks.CreateAccessEntryInput{PrincipalArn: "bob"}, 400, eks.InvalidParameterException, "not valid"},
		{"exists", "POST", "/clusters/demo/access-entries", eks.CreateAccessEntryInput{PrincipalArn: bob}, 409, eks.ResourceInUseException, "already in use"},
		{"system group", "POST", "/clusters/demo/access-entries", eks.CreateAccessEntryInput{PrincipalArn: bob, KubernetesGroups: []string{"system:masters"}}, 400, eks.InvalidParameterException, "cannot start with system:"},
		{"empty group", "POST", "/clusters/demo/access-entries", eks.CreateAccessEntryInput{PrincipalArn: bob, KubernetesGroups: []string{""}}, 400, eks.InvalidParameterException, "kubernetesGroups"},
		{"system username", "POST", "/clusters/demo/access-entries", eks.CreateAccessEntryInput{PrincipalArn: bob, Username: "system:admin"}, 400, eks.InvalidParameterException, "must not begin with system:"},
		{"unknown template", "POST", "/clusters/demo/access-entries", eks.CreateAccessEntryInput{PrincipalArn: bob, Username: "u-{{EC2PrivateDNSName}}"}, 400, eks.InvalidParameterException, "not supported"},
		{"session template for a user", "POST", "/clusters/demo/access-entries", eks.CreateAccessEntryInput{PrincipalArn: bob, Username: "u-{{SessionName}}"}, 400, eks.InvalidParameterException, "only valid for IAM roles"},
		{"unbalanced template", "POST", "/clusters/demo/access-entries", eks.CreateAccessEntryInput{PrincipalArn: bob, Username: "u-{{AccountID}"}, 400, eks.InvalidParameterException, "unbalanced"},
		{"type", "POST", "/clusters/demo/access-entries", eks.CreateAccessEntryInput{PrincipalArn: bob, Type: "EC2_LINUX"}, 400, eks.InvalidParameterException, "STANDARD"},
		{"bad tag", "POST", "/clusters/demo/access-entries", eks.CreateAccessEntryInput{PrincipalArn: bob, Tags: map[string]string{"a": "{"}}, 400, eks.InvalidParameterException, "tag"},
		{"unknown cluster", "POST", "/clusters/nope/access-entries", eks.CreateAccessEntryInput{PrincipalArn: bob}, 404, eks.ResourceNotFoundException, "No cluster found for name: nope."},
		{"describe unknown entry", "GET", entryPath("demo", h.userARN("carol")), nil, 404, eks.ResourceNotFoundException, "could not be found"},
		{"describe on unknown cluster", "GET", entryPath("nope", bob), nil, 404, eks.ResourceNotFoundException, "No cluster found"},
		{"update unknown entry", "POST", entryPath("demo", h.userARN("carol")), map[string]any{"username": "c"}, 404, eks.ResourceNotFoundException, "could not be found"},
		{"update system group", "POST", entryPath("demo", bob), map[string]any{"kubernetesGroups": []string{"system:nodes"}}, 400, eks.InvalidParameterException, "cannot start with system:"},
		{"update system username", "POST", entryPath("demo", bob), map[string]any{"username": "system:node:x"}, 400, eks.InvalidParameterException, "must not begin with system:"},
		{"delete unknown entry", "DELETE", entryPath("demo", h.userARN("carol")), nil, 404, eks.ResourceNotFoundException, "could not be found"},
		{"unknown policy", "POST", entryPath("demo", bob) + "/access-policies", eks.AssociateAccessPolicyInput{PolicyArn: "arn:aws:eks::aws:cluster-access-policy/AmazonEKSRootPolicy", AccessScope: &eks.AccessScope{Type: "cluster"}}, 400, eks.InvalidParameterException, "not a valid access policy"},
		{"namespace scope without namespaces", "POST", entryPath("demo", bob) + "/access-policies", scoped("namespace"), 400, eks.InvalidParameterException, "needs 1-100 namespaces"},
		{"cluster scope with namespaces", "POST", entryPath("demo", bob) + "/access-policies", scoped("cluster", "a"), 400, eks.InvalidParameterException, "cannot be specified"},
		{"bad namespace", "POST", entryPath("demo", bob) + "/access-policies", scoped("namespace", "Team_A"), 400, eks.InvalidParameterException, "namespace \"Team_A\" is not valid"},
		{"bad scope type", "POST", entryPath("demo", bob) + "/access-policies", scoped("account"), 400, eks.InvalidParameterException, "not valid"},
		{"no scope", "POST", entryPath("demo", bob) + "/access-policies", eks.AssociateAccessPolicyInput{PolicyArn: view}, 400, eks.InvalidParameterException, "accessScope is required"},
		{"associate to unknown entry", "POST", entryPath("demo", h.userARN("carol")) + "/access-policies", scoped("cluster"), 404, eks.ResourceNotFoundException, "could not be found"},
		{"disassociate unassociated", "DELETE", entryPath("demo", bob) + "/access-policies/" + url.PathEscape(view), nil, 404, eks.ResourceNotFoundException, "not associated"},
		{"list filter by unknown policy", "GET", "/clusters/demo/access-entries?associatedPolicyArn=arn:x", nil, 400, eks.InvalidParameterException, "not a valid access policy"},
		{"list maxResults", "GET", "/clusters/demo/access-entries?maxResults=0", nil, 400, eks.InvalidParameterException, "maxResults"},
		{"list token", "GET", "/clusters/demo/access-entries?nextToken=%25%25", nil, 400, eks.InvalidParameterException, "nextToken"},
		{"list on unknown cluster", "GET", "/clusters/nope/access-entries", nil, 404, eks.ResourceNotFoundException, "No cluster found"},
		{"wrong method", "PUT", entryPath("demo", bob), nil, 405, eks.ClientException, "not allowed"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := h.entries()
			h.do(tc.method, tc.path, tc.body).wantError(t, tc.status, tc.typ, tc.msg)
			if after := h.entries(); !maps.Equal(before, after) {
				t.Fatalf("a refused call changed the stored entries: %v → %v", before, after)
			}
		})
	}
}

// seedEntry stores an entry for principal without asking the IAM store.
func (h *harness) seedEntry(cluster, principal string) {
	h.t.Helper()
	c := h.stored(cluster)
	now := metav1.Now()
	spec := v1alpha1.AccessEntrySpec{ClusterName: cluster, PrincipalARN: principal, Type: "STANDARD", Username: principal, CreatedAt: now, ModifiedAt: now}
	if err := h.store.Create(context.Background(), accessentries.NewObject(c, spec)); err != nil {
		h.t.Fatal(err)
	}
}

func TestAccessEntryPaging(t *testing.T) {
	h := newHarness(t)
	h.create(eks.CreateClusterInput{Name: "demo", AccessConfig: &eks.AccessConfig{BootstrapClusterCreatorAdminPermissions: ptr(false)}})
	var want []string
	for i := range 5 {
		arn := h.userARN(fmt.Sprintf("u%d", i))
		want = append(want, arn)
		h.do("POST", "/clusters/demo/access-entries", eks.CreateAccessEntryInput{PrincipalArn: arn}).accessEntry(t)
	}
	var got []string
	token := ""
	for pages := 0; ; pages++ {
		q := "?maxResults=2"
		if token != "" {
			q += "&nextToken=" + url.QueryEscape(token)
		}
		out := h.listEntries("demo", q)
		if len(out.AccessEntries) > 2 || pages > 3 {
			t.Fatalf("page %d: %+v", pages, out)
		}
		got = append(got, out.AccessEntries...)
		if token = out.NextToken; token == "" {
			break
		}
	}
	if !slices.Equal(got, want) {
		t.Fatalf("paged %v, want %v", got, want)
	}

	var pol eks.ListAccessPoliciesOutput
	h.do("GET", "/access-policies?maxResults=3", nil).decode(t, &pol)
	if len(pol.AccessPolicies) != 3 || pol.NextToken == "" || pol.AccessPolicies[0].Name != "AmazonEKSAdminPolicy" ||
		pol.AccessPolicies[0].Arn != "arn:aws:eks::aws:cluster-access-policy/AmazonEKSAdminPolicy" {
		t.Fatalf("first page of policies %+v", pol)
	}
	next := pol.NextToken
	pol = eks.ListAccessPoliciesOutput{}
	h.do("GET", "/access-policies?nextToken="+url.QueryEscape(next), nil).decode(t, &pol)
	if len(pol.AccessPolicies) != 1 || pol.AccessPolicies[0].Name != "AmazonEKSViewPolicy" || pol.NextToken != "" {
		t.Fatalf("second page of policies %+v", pol)
	}
}

func TestAccessConfig(t *testing.T) {
	h := newHarness(t)
	d := h.create(eks.CreateClusterInput{Name: "dflt"})
	if d.AccessConfig == nil || d.AccessConfig.AuthenticationMode != "API_AND_CONFIG_MAP" || !*d.AccessConfig.BootstrapClusterCreatorAdminPermissions {
		t.Fatalf("default accessConfig %+v", d.AccessConfig)
	}

	before := h.entries()
	h.do("POST", "/clusters", eks.CreateClusterInput{Name: "bad", AccessConfig: &eks.AccessConfig{AuthenticationMode: "IAM"}}).
		wantError(t, 400, eks.InvalidParameterException, "authenticationMode")
	if n, _ := h.count(); n != 1 || !maps.Equal(before, h.entries()) {
		t.Fatalf("a refused create stored something: %d clusters", n)
	}

	h.create(eks.CreateClusterInput{Name: "cm", AccessConfig: &eks.AccessConfig{AuthenticationMode: "CONFIG_MAP"}})
	got := h.do("GET", "/clusters/cm", nil).cluster(t)
	if got.AccessConfig.AuthenticationMode != "CONFIG_MAP" {
		t.Fatalf("described %+v", got.AccessConfig)
	}
	if got := h.listEntriesStatus("cm"); got != 400 {
		t.Fatalf("list on a CONFIG_MAP cluster: %d", got)
	}
	h.do("POST", "/clusters/cm/access-entries", eks.CreateAccessEntryInput{PrincipalArn: h.userARN("x")}).
		wantError(t, 400, eks.InvalidRequestException, "authentication mode must be set to one of [API, API_AND_CONFIG_MAP]")
	h.do("GET", entryPath("cm", h.userARN("x")), nil).wantError(t, 400, eks.InvalidRequestException, "authentication mode")
	if !maps.Equal(before, h.entries()) {
		t.Fatal("a CONFIG_MAP cluster got an entry")
	}

	// The mode moves one way only; each step is an AccessConfigUpdate.
	h.pushStatus("cm", v1alpha1.ClusterStatus{Status: v1alpha1.StatusActive})
	mode := func(m string) eks.UpdateClusterConfigInput {
		return eks.UpdateClusterConfigInput{AccessConfig: &eks.AccessConfig{AuthenticationMode: m}}
	}
	u := h.do("POST", "/clusters/cm/update-config", mode("API_AND_CONFIG_MAP")).update(t)
	if u.Type != "AccessConfigUpdate" || u.Status != "Successful" || len(u.Params) != 1 ||
		u.Params[0].Type != "AuthenticationMode" || u.Params[0].Value != "API_AND_CONFIG_MAP" {
		t.Fatalf("update %+v", u)
	}
	for _, back := range []string{"CONFIG_MAP", "API_AND_CONFIG_MAP"} {
		rv := h.stored("cm").ResourceVersion
		h.do("POST", "/clusters/cm/update-config", mode(back)).wantError(t, 400, eks.InvalidParameterException, "Unsupported authentication mode update")
		if h.stored("cm").ResourceVersion != rv {
			t.Fatalf("a refused change to %s changed the cluster", back)
		}
	}
	h.do("POST", "/clusters/cm/update-config", eks.UpdateClusterConfigInput{AccessConfig: &eks.AccessConfig{}}).
		wantError(t, 400, eks.InvalidParameterException, "authenticationMode is required")
	on := true
	h.do("POST", "/clusters/cm/update-config", eks.UpdateClusterConfigInput{AccessConfig: &eks.AccessConfig{AuthenticationMode: "API"}, DeletionProtection: &on}).
		wantError(t, 400, eks.InvalidParameterException, "on its own")
	h.do("POST", "/clusters/cm/update-config", mode("API")).update(t)
	if got := h.do("GET", "/clusters/cm", nil).cluster(t).AccessConfig.AuthenticationMode; got != "API" {
		t.Fatalf("mode after updates: %s", got)
	}
	h.do("POST", "/clusters/cm/update-config", mode("API_AND_CONFIG_MAP")).wantError(t, 400, eks.InvalidParameterException, "from API to API_AND_CONFIG_MAP")
	// Now entries are served; bootstrap did not run for a CONFIG_MAP create.
	if got := h.listEntries("cm", ""); len(got.AccessEntries) != 0 {
		t.Fatalf("entries of cm: %v", got.AccessEntries)
	}
}

func (h *harness) listEntriesStatus(cluster string) int {
	return h.do("GET", "/clusters/"+cluster+"/access-entries", nil).status
}

func TestAccessEntriesOfAnEarlierClusterDoNotCount(t *testing.T) {
	h := newHarness(t)
	c := h.seed("again")
	h.seedEntry("again", h.userARN("old"))
	// The cluster is gone (its finalizer released) and created again.
	c.Finalizers = nil
	if err := h.store.Update(context.Background(), c); err != nil {
		t.Fatal(err)
	}
	if err := h.store.Delete(context.Background(), c); err != nil {
		t.Fatal(err)
	}
	h.create(eks.CreateClusterInput{Name: "again", AccessConfig: &eks.AccessConfig{BootstrapClusterCreatorAdminPermissions: ptr(false)}})
	h.do("GET", entryPath("again", h.userARN("old")), nil).wantError(t, 404, eks.ResourceNotFoundException, "could not be found")
	if got := h.listEntries("again", ""); len(got.AccessEntries) != 0 {
		t.Fatalf("entries of the new cluster: %v", got.AccessEntries)
	}
	h.do("POST", "/clusters/again/access-entries", eks.CreateAccessEntryInput{PrincipalArn: h.userARN("old")}).accessEntry(t)
}
