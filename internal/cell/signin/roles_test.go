package signin

import (
	"context"
	"testing"

	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/rest"

	"github.com/cellplane/cellplane/api/v1alpha1"
)

// TestRulesWaitForAggregation: an aggregated ClusterRole the controller
// manager has not filled in yet is read again on the next request, not kept
// empty for RolesTTL; once it has rules, they are kept.
func TestRulesWaitForAggregation(t *testing.T) {
	ctx := context.Background()
	cl := env.Client(t)
	name := "cellplane-test-aggregated-" + env.Namespace(t)
	role := &rbacv1.ClusterRole{ObjectMeta: metav1.ObjectMeta{Name: name},
		AggregationRule: &rbacv1.AggregationRule{ClusterRoleSelectors: []metav1.LabelSelector{{MatchLabels: map[string]string{"x": "y"}}}}}
	if err := cl.Create(ctx, role); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cl.Delete(context.Background(), role) })
	tr := &TenantReader{Config: func(*v1alpha1.Cluster) (*rest.Config, error) { return env.RESTConfig(t), nil }}
	c := &v1alpha1.Cluster{ObjectMeta: metav1.ObjectMeta{UID: types.UID("uid-" + name)}}

	rules, err := tr.Rules(ctx, c, name)
	if err != nil || len(rules) != 0 {
		t.Fatalf("Rules before aggregation = %v, %v; want none", rules, err)
	}
	// The aggregation controller fills the role in.
	role.Rules = []rbacv1.PolicyRule{{APIGroups: []string{""}, Resources: []string{"pods"}, Verbs: []string{"list"}}}
	if err := cl.Update(ctx, role); err != nil {
		t.Fatal(err)
	}
	if rules, err := tr.Rules(ctx, c, name); err != nil || len(rules) != 1 {
		t.Fatalf("Rules after aggregation = %v, %v; want the new rule at once", rules, err)
	}
	// Filled in, the role is kept: a change shows only after RolesTTL.
	role.Rules = append(role.Rules, rbacv1.PolicyRule{APIGroups: []string{""}, Resources: []string{"secrets"}, Verbs: []string{"get"}})
	if err := cl.Update(ctx, role); err != nil {
		t.Fatal(err)
	}
	if rules, err := tr.Rules(ctx, c, name); err != nil || len(rules) != 1 {
		t.Fatalf("Rules within RolesTTL = %v, %v; want the kept answer", rules, err)
	}
}
