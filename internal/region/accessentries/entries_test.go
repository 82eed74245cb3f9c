package accessentries

import (
	"context"
	"slices"
	"testing"

	"github.com/cellplane/cellplane/api/v1alpha1"
)

func TestAssociateMovesScopeOnce(t *testing.T) {
	const view = "arn:aws:eks::aws:cluster-access-policy/AmazonEKSViewPolicy"
	var spec v1alpha1.AccessEntrySpec
	ns := v1alpha1.AccessScope{Type: v1alpha1.AccessScopeNamespace, Namespaces: []string{"a"}}
	if !associate(&spec, view, ns) || len(spec.AccessPolicies) != 1 {
		t.Fatalf("first association: %+v", spec.AccessPolicies)
	}
	if associate(&spec, view, ns) {
		t.Fatal("the same scope again reported a change")
	}
	cluster := v1alpha1.AccessScope{Type: v1alpha1.AccessScopeCluster}
	if !associate(&spec, view, cluster) || len(spec.AccessPolicies) != 1 || spec.AccessPolicies[0].Scope.Type != v1alpha1.AccessScopeCluster {
		t.Fatalf("re-scoped: %+v", spec.AccessPolicies)
	}
}

func TestEntryObjectsBelongToOneCluster(t *testing.T) {
	c := &v1alpha1.Cluster{}
	c.Name, c.Namespace, c.UID = "c-demo", "acct-1", "uid-1"
	const p = "arn:aws:iam::000000000001:user/alice"
	e := NewObject(c, v1alpha1.AccessEntrySpec{PrincipalARN: p})
	if e.Name != entryObjectName(c, p) || e.Labels[v1alpha1.LabelCluster] != c.Name || !entryOf(e, c) {
		t.Fatalf("entry %s labels %v owners %v", e.Name, e.Labels, e.OwnerReferences)
	}
	again := c.DeepCopy()
	again.UID = "uid-2"
	if entryOf(e, again) {
		t.Fatal("an entry of an earlier cluster of the same name counts")
	}
	if got := dedupe([]string{"b", "a", "b"}); !slices.Equal(got, []string{"b", "a"}) {
		t.Fatalf("dedupe: %v", got)
	}
}

func TestWellFormedAndMode(t *testing.T) {
	for arn, want := range map[string]bool{
		"arn:aws:iam::000000000001:user/admin": true,
		"arn:aws:iam::000000000001:role/ops":   true,
		"arn:aws:iam::000000000001:group/devs": false,
		"bob":                                  false,
	} {
		if got, err := (WellFormed{}).Exists(context.Background(), arn); err != nil || got != want {
			t.Errorf("Exists(%s) = %v, %v", arn, got, err)
		}
	}
	c := &v1alpha1.Cluster{}
	if Mode(c) != v1alpha1.AuthenticationModeAPIAndConfigMap {
		t.Fatalf("mode of a cluster stored before accessConfig: %s", Mode(c))
	}
	if err := SetMode(c, v1alpha1.AuthenticationModeConfigMap); err == nil {
		t.Fatal("the mode moved back")
	}
	if err := SetMode(c, v1alpha1.AuthenticationModeAPI); err != nil || Mode(c) != v1alpha1.AuthenticationModeAPI {
		t.Fatalf("SetMode(API): %v, mode %s", err, Mode(c))
	}
}
