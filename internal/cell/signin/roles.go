package signin

import (
	"context"
	"fmt"
	"sync"
	"time"

	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/cellplane/cellplane/api/v1alpha1"
)

// Roles finds the rules of a tenant's ClusterRole.
type Roles interface {
	Rules(ctx context.Context, c *v1alpha1.Cluster, clusterRole string) ([]rbacv1.PolicyRule, error)
}

// RolesTTL is how long TenantRoles keeps a ClusterRole's rules.
const RolesTTL = time.Minute

// TenantRoles reads the ClusterRoles access policies name (cluster-admin,
// admin, edit, view) from the tenant cluster itself, as its cluster admin,
// and keeps them RolesTTL: the aggregated roles grow with the cluster's
// APIs (a CRD's aggregation labels add to them), and reading them there is
// what RBAC would grant the same role bound in the cluster.
type TenantRoles struct {
	Config func(c *v1alpha1.Cluster) (*rest.Config, error)

	mu    sync.Mutex
	cache map[string]cachedRules
}

type cachedRules struct {
	rules []rbacv1.PolicyRule
	at    time.Time
}

// Rules implements Roles.
func (t *TenantRoles) Rules(ctx context.Context, c *v1alpha1.Cluster, role string) ([]rbacv1.PolicyRule, error) {
	key := string(c.UID) + "/" + role
	t.mu.Lock()
	hit, ok := t.cache[key]
	t.mu.Unlock()
	if ok && time.Since(hit.at) < RolesTTL {
		return hit.rules, nil
	}
	cfg, err := t.Config(c)
	if err != nil {
		return nil, err
	}
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return nil, fmt.Errorf("connecting to the cluster: %w", err)
	}
	cr, err := cs.RbacV1().ClusterRoles().Get(ctx, role, metav1.GetOptions{})
	if err != nil {
		return nil, fmt.Errorf("reading ClusterRole %s: %w", role, err)
	}
	t.mu.Lock()
	if t.cache == nil {
		t.cache = map[string]cachedRules{}
	}
	t.cache[key] = cachedRules{rules: cr.Rules, at: time.Now()}
	t.mu.Unlock()
	return cr.Rules, nil
}
