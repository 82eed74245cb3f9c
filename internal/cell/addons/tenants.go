package addons

import (
	"context"
	"fmt"
	"sync"
	"time"

	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/tools/clientcmd"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/cellplane/cellplane/api/v1alpha1"
)

// Tenants hands out clients of tenant clusters, built from the admin
// kubeconfigs the cell publishes in its store and kept while the
// kubeconfig is unchanged.
type Tenants struct {
	Client client.Client // the cell's store

	mu      sync.Mutex
	clients map[string]tenantClient
}

type tenantClient struct {
	version string // of the kubeconfig Secret
	dyn     dynamic.Interface
}

// For returns a client of the cluster's API.
func (t *Tenants) For(ctx context.Context, c *v1alpha1.Cluster) (dynamic.Interface, error) {
	s, err := kubeconfigOf(ctx, t.Client, c)
	if err != nil {
		return nil, err
	}
	key := c.Namespace + "/" + c.Name
	t.mu.Lock()
	defer t.mu.Unlock()
	if tc, ok := t.clients[key]; ok && tc.version == s.ResourceVersion {
		return tc.dyn, nil
	}
	cfg, err := clientcmd.RESTConfigFromKubeConfig(s.Data[v1alpha1.KubeconfigSecretKey])
	if err != nil {
		return nil, fmt.Errorf("loading the kubeconfig of cluster %s: %w", c.Spec.Name, err)
	}
	cfg.Timeout = 15 * time.Second
	cfg.UserAgent = "cellplane-addons"
	dyn, err := dynamic.NewForConfig(cfg)
	if err != nil {
		return nil, fmt.Errorf("connecting to cluster %s: %w", c.Spec.Name, err)
	}
	if t.clients == nil {
		t.clients = map[string]tenantClient{}
	}
	t.clients[key] = tenantClient{version: s.ResourceVersion, dyn: dyn}
	return dyn, nil
}
