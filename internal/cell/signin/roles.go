package signin

import (
	"context"
	"fmt"
	"time"

	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/cellplane/cellplane/api/v1alpha1"
)

// Roles finds the rules of a tenant's ClusterRole.
type Roles interface {
	Rules(ctx context.Context, c *v1alpha1.Cluster, clusterRole string) ([]rbacv1.PolicyRule, error)
}

// RolesTTL is how long TenantReader keeps a ClusterRole's rules.
const RolesTTL = time.Minute

// Rules implements Roles. The ClusterRoles access policies name
// (cluster-admin, admin, edit, view) are read from the tenant cluster: the
// aggregated ones grow with the cluster's APIs (a CRD's aggregation labels
// add to them), and reading them there grants what RBAC would grant the same
// role bound in the cluster.
func (t *TenantReader) Rules(ctx context.Context, c *v1alpha1.Cluster, role string) ([]rbacv1.PolicyRule, error) {
	v, err := t.get(string(c.UID)+"/clusterrole/"+role, RolesTTL, func() (any, error) {
		cs, err := t.clientset(c)
		if err != nil {
			return nil, err
		}
		cr, err := cs.RbacV1().ClusterRoles().Get(ctx, role, metav1.GetOptions{})
		if err != nil {
			return nil, fmt.Errorf("reading ClusterRole %s: %w", role, err)
		}
		if cr.AggregationRule != nil && len(cr.Rules) == 0 {
			// The controller manager fills aggregated roles (admin, edit,
			// view) in seconds after it first leads. Kept empty, the role
			// would deny what it grants for RolesTTL after a cluster starts.
			return fresh{cr.Rules}, nil
		}
		return cr.Rules, nil
	})
	if err != nil {
		return nil, err
	}
	return v.([]rbacv1.PolicyRule), nil
}
