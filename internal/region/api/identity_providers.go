package api

import (
	"context"
	"net/http"

	"github.com/cellplane/cellplane/api/v1alpha1"
	"github.com/cellplane/cellplane/internal/eks"
	"github.com/cellplane/cellplane/internal/region/identityproviders"
)

// idpRoutes registers the identity provider operations, which package
// identityproviders serves over this server's clusters and updates.
func (s *server) idpRoutes(mux *http.ServeMux) {
	const base = "/clusters/{name}/identity-provider-configs"
	mux.HandleFunc("POST "+base+"/associate", s.handle(s.idps.Associate))
	mux.HandleFunc(base+"/associate", s.methodNotAllowed("POST"))
	mux.HandleFunc("POST "+base+"/describe", s.handle(s.idps.Describe))
	mux.HandleFunc(base+"/describe", s.methodNotAllowed("POST"))
	mux.HandleFunc("POST "+base+"/disassociate", s.handle(s.idps.Disassociate))
	mux.HandleFunc(base+"/disassociate", s.methodNotAllowed("POST"))
	mux.HandleFunc("GET "+base, s.handle(s.idps.List))
	mux.HandleFunc(base, s.methodNotAllowed("GET"))
}

// newIdentityProviders gives the operations this server's clusters.
func (s *server) newIdentityProviders() *identityproviders.Operations {
	return &identityproviders.Operations{Clusters: idpClusters{s}, Region: s.region, InUse: errResourceInUse, Log: s.log}
}

// idpClusters is identityproviders.Clusters over the server.
type idpClusters struct{ s *server }

func (a idpClusters) Cluster(r *http.Request) (*v1alpha1.Cluster, error) {
	return a.s.clusterOfRequest(r)
}

func (a idpClusters) RequireActive(c *v1alpha1.Cluster) error { return requireActive(c) }

func (a idpClusters) Update(ctx context.Context, c *v1alpha1.Cluster, change func(*v1alpha1.Cluster) (bool, error)) error {
	return a.s.updateCluster(ctx, c.Labels[v1alpha1.LabelAccount], c, func(c *v1alpha1.Cluster) error {
		changed, err := change(c)
		if err == nil && !changed {
			return errNoChange
		}
		return err
	})
}

func (a idpClusters) UpdateByToken(ctx context.Context, c *v1alpha1.Cluster, token, typ string, params []v1alpha1.UpdateParam) (*eks.Update, error) {
	u, err := a.s.updateByToken(ctx, c, token, typ, params)
	if err != nil || u == nil {
		return nil, err
	}
	return toWireUpdate(u), nil
}

func (a idpClusters) Record(ctx context.Context, c *v1alpha1.Cluster, spec v1alpha1.ClusterUpdateSpec) (*eks.Update, error) {
	u, err := a.s.recordUpdate(ctx, c, spec, v1alpha1.UpdateInProgress)
	if err != nil {
		return nil, err
	}
	return toWireUpdate(u), nil
}

func (a idpClusters) SetUpdateStatus(ctx context.Context, u *v1alpha1.ClusterUpdate) error {
	return a.s.store.Status().Update(ctx, u)
}
