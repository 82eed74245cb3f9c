package nodegroups

import (
	"crypto/sha256"
	"fmt"
	"sync"

	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/cellplane/cellplane/api/v1alpha1"
	"github.com/cellplane/cellplane/internal/cell/tenant"
	"github.com/cellplane/cellplane/internal/controlplane"
)

// tenantClients keeps one client of each cluster's API, made from the
// cell's admin credentials, and makes it afresh when they change (renewal,
// CA rotation).
type tenantClients struct {
	mu sync.Mutex
	m  map[types.UID]tenantClient
}

type tenantClient struct {
	sum  [32]byte
	kube kubernetes.Interface
}

func (t *tenantClients) get(c *v1alpha1.Cluster, p *controlplane.Plan) (kubernetes.Interface, error) {
	b, err := tenant.AdminKubeconfig(c, p)
	if err != nil {
		return nil, err
	}
	sum := sha256.Sum256(b)
	t.mu.Lock()
	defer t.mu.Unlock()
	if tc, ok := t.m[c.UID]; ok && tc.sum == sum {
		return tc.kube, nil
	}
	cfg, err := clientcmd.RESTConfigFromKubeConfig(b)
	if err != nil {
		return nil, fmt.Errorf("reading admin kubeconfig of cluster %s: %w", c.Spec.Name, err)
	}
	cfg.QPS, cfg.Burst = 50, 100
	k, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return nil, fmt.Errorf("connecting to cluster %s: %w", c.Spec.Name, err)
	}
	if t.m == nil {
		t.m = map[types.UID]tenantClient{}
	}
	t.m[c.UID] = tenantClient{sum: sum, kube: k}
	return k, nil
}
