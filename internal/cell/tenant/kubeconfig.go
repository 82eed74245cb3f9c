package tenant

import (
	"fmt"
	"os"

	"github.com/cellplane/cellplane/api/v1alpha1"
	"github.com/cellplane/cellplane/internal/controlplane"
	"github.com/cellplane/cellplane/internal/kubeconfig"
)

// AdminKubeconfig is the cluster's admin kubeconfig with the credentials
// embedded, pointing at its endpoint.
func AdminKubeconfig(c *v1alpha1.Cluster, p *controlplane.Plan) ([]byte, error) {
	f := p.Files()
	ca, err := os.ReadFile(f.CABundle)
	if err != nil {
		return nil, fmt.Errorf("reading trust bundle: %w", err)
	}
	cert, err := os.ReadFile(f.Admin.Cert)
	if err != nil {
		return nil, fmt.Errorf("reading admin certificate: %w", err)
	}
	key, err := os.ReadFile(f.Admin.Key)
	if err != nil {
		return nil, fmt.Errorf("reading admin key: %w", err)
	}
	return kubeconfig.Marshal(kubeconfig.Options{
		ClusterName: c.Spec.Name, Server: p.Endpoint(), User: c.Spec.Name + "-admin",
		CAData: ca, CertData: cert, KeyData: key,
	})
}
