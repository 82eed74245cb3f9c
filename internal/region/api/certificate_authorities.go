package api

import (
	"context"
	"net/http"

	"github.com/cellplane/cellplane/api/v1alpha1"
	"github.com/cellplane/cellplane/internal/eks"
	"github.com/cellplane/cellplane/internal/region/certauthorities"
)

// caRoutes registers the CA rotation operations, which package
// certauthorities serves over this server's clusters and updates.
func (s *server) caRoutes(mux *http.ServeMux) {
	const list, one = "/clusters/{name}/certificate-authorities", "/clusters/{name}/certificate-authorities/{caId}"
	mux.HandleFunc("POST "+list, s.handle(s.cas.Create))
	mux.HandleFunc("GET "+list, s.handle(s.cas.List))
	mux.HandleFunc(list, s.methodNotAllowed("GET, POST"))
	mux.HandleFunc("GET "+one, s.handle(s.cas.Describe))
	mux.HandleFunc("DELETE "+one, s.handle(s.cas.Delete))
	mux.HandleFunc(one, s.methodNotAllowed("GET, DELETE"))
	mux.HandleFunc("POST "+one+"/activate", s.handle(s.cas.Activate))
	mux.HandleFunc(one+"/activate", s.methodNotAllowed("POST"))
}

// newCertificateAuthorities gives the operations this server's clusters.
func (s *server) newCertificateAuthorities() *certauthorities.Operations {
	return &certauthorities.Operations{Clusters: caClusters{s}, InUse: errResourceInUse}
}

// settleCA settles the cluster's CA updates in progress (see certauthorities.Settle).
func (s *server) settleCA(ctx context.Context, c *v1alpha1.Cluster, ups []v1alpha1.ClusterUpdate) ([]v1alpha1.ClusterUpdate, error) {
	return certauthorities.Settle(ctx, c, ups, func(ctx context.Context, u *v1alpha1.ClusterUpdate) error {
		return s.store.Status().Update(ctx, u)
	})
}

// caClusters is certauthorities.Clusters over the server.
type caClusters struct{ s *server }

func (a caClusters) Cluster(r *http.Request) (*v1alpha1.Cluster, error) {
	return a.s.clusterOfRequest(r)
}

func (a caClusters) Updates(ctx context.Context, c *v1alpha1.Cluster) ([]v1alpha1.ClusterUpdate, error) {
	return a.s.updatesOf(ctx, c)
}

func (a caClusters) Update(ctx context.Context, c *v1alpha1.Cluster, change func(*v1alpha1.Cluster) error) error {
	return a.s.updateCluster(ctx, c.Labels[v1alpha1.LabelAccount], c, change)
}

func (a caClusters) RequireActive(c *v1alpha1.Cluster) error { return requireActive(c) }

func (a caClusters) Record(ctx context.Context, c *v1alpha1.Cluster, spec v1alpha1.ClusterUpdateSpec) (*eks.Update, error) {
	u, err := a.s.recordUpdate(ctx, c, spec, v1alpha1.UpdateInProgress)
	if err != nil {
		return nil, err
	}
	return toWireUpdate(u), nil
}

func (a caClusters) Wire(u *v1alpha1.ClusterUpdate) *eks.Update { return toWireUpdate(u) }
