package api

import (
	"context"
	"net/http"

	"github.com/cellplane/cellplane/api/v1alpha1"
	"github.com/cellplane/cellplane/internal/eks"
	"github.com/cellplane/cellplane/internal/errdefs"
	"github.com/cellplane/cellplane/internal/region/nodegroups"
)

// nodegroupRoutes registers the managed node group operations, which
// package nodegroups serves over this server's clusters and updates.
func (s *server) nodegroupRoutes(mux *http.ServeMux) {
	const list, one = "/clusters/{name}/node-groups", "/clusters/{name}/node-groups/{nodegroupName}"
	mux.HandleFunc("POST "+list, s.handle(s.nodegroups.Create))
	mux.HandleFunc("GET "+list, s.handle(s.nodegroups.List))
	mux.HandleFunc(list, s.methodNotAllowed("GET, POST"))
	mux.HandleFunc("GET "+one, s.handle(s.nodegroups.Describe))
	mux.HandleFunc("DELETE "+one, s.handle(s.nodegroups.Delete))
	mux.HandleFunc(one, s.methodNotAllowed("GET, DELETE"))
	mux.HandleFunc("POST "+one+"/update-config", s.handle(s.nodegroups.UpdateConfig))
	mux.HandleFunc(one+"/update-config", s.methodNotAllowed("POST"))
	mux.HandleFunc("POST "+one+"/update-version", s.handle(s.nodegroups.UpdateVersion))
	mux.HandleFunc(one+"/update-version", s.methodNotAllowed("POST"))
}

// newNodegroups gives the operations this server's clusters and store.
func (s *server) newNodegroups() *nodegroups.Operations {
	return &nodegroups.Operations{Clusters: ngClusters{s}, Store: s.store, Region: s.region, InUse: errResourceInUse, Log: s.log}
}

// ngClusters is nodegroups.Clusters over the server.
type ngClusters struct{ s *server }

func (a ngClusters) Cluster(r *http.Request) (*v1alpha1.Cluster, error) {
	return a.s.clusterOfRequest(r)
}

func (a ngClusters) Account(r *http.Request) string { return accountFor(r) }

func (a ngClusters) RequireActive(c *v1alpha1.Cluster) error { return requireActive(c) }

func (a ngClusters) Updates(ctx context.Context, c *v1alpha1.Cluster) ([]v1alpha1.ClusterUpdate, error) {
	return a.s.updatesOf(ctx, c)
}

func (a ngClusters) Record(ctx context.Context, c *v1alpha1.Cluster, spec v1alpha1.ClusterUpdateSpec) (*eks.Update, error) {
	u, err := a.s.recordUpdate(ctx, c, spec, v1alpha1.UpdateInProgress)
	if err != nil {
		return nil, err
	}
	return toWireUpdate(u), nil
}

func (a ngClusters) Wire(u *v1alpha1.ClusterUpdate) *eks.Update { return toWireUpdate(u) }

// refuseNodegroups refuses to delete a cluster that still has node groups,
// as EKS does: their nodes would lose their control plane.
func (s *server) refuseNodegroups(r *http.Request, c *v1alpha1.Cluster) error {
	groups, err := nodegroups.List(r.Context(), s.store, c)
	if err != nil {
		return err
	}
	if len(groups) > 0 {
		return errdefs.Publicf(errResourceInUse, "Cluster has nodegroups attached: delete node group %s (and any other) first.", groups[0].Spec.NodegroupName)
	}
	return nil
}
