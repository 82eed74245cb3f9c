package api

import (
	"context"
	"net/http"

	"github.com/cellplane/cellplane/api/v1alpha1"
	"github.com/cellplane/cellplane/internal/eks"
	"github.com/cellplane/cellplane/internal/insights"
	"github.com/cellplane/cellplane/internal/region/nodegroups"
	"github.com/cellplane/cellplane/internal/region/upgrades"
)

// upgradeRoutes registers UpdateClusterVersion and CancelUpdate, which
// package upgrades serves over this server's clusters and updates.
func (s *server) upgradeRoutes(mux *http.ServeMux) {
	mux.HandleFunc("POST /clusters/{name}/updates", s.handle(s.upgrades.UpdateVersion))
	mux.HandleFunc("POST /clusters/{name}/updates/{updateId}/cancel-update", s.handle(s.upgrades.Cancel))
	mux.HandleFunc("/clusters/{name}/updates/{updateId}/cancel-update", s.methodNotAllowed("POST"))
}

// newUpgrades gives the operations this server's clusters and store.
func (s *server) newUpgrades() *upgrades.Operations {
	return &upgrades.Operations{Clusters: upClusters{s}, InUse: errResourceInUse, Log: s.log,
		RefuseUpgrade: func(c *v1alpha1.Cluster, target string) error { return insights.RefuseUpgrade(c, target, false) }}
}

// upClusters is upgrades.Clusters over the server.
type upClusters struct{ s *server }

func (a upClusters) Cluster(r *http.Request) (*v1alpha1.Cluster, error) {
	return a.s.clusterOfRequest(r)
}

func (a upClusters) Account(r *http.Request) string { return accountFor(r) }

func (a upClusters) RequireActive(c *v1alpha1.Cluster) error { return requireActive(c) }

func (a upClusters) Change(ctx context.Context, account string, c *v1alpha1.Cluster, change func(*v1alpha1.Cluster) error) error {
	return a.s.updateCluster(ctx, account, c, change)
}

func (a upClusters) Updates(ctx context.Context, c *v1alpha1.Cluster) ([]v1alpha1.ClusterUpdate, error) {
	return a.s.updatesOf(ctx, c)
}

func (a upClusters) Record(ctx context.Context, c *v1alpha1.Cluster, spec v1alpha1.ClusterUpdateSpec) (*v1alpha1.ClusterUpdate, error) {
	return a.s.recordUpdate(ctx, c, spec, v1alpha1.UpdateInProgress)
}

func (a upClusters) SaveStatus(ctx context.Context, u *v1alpha1.ClusterUpdate) error {
	return a.s.store.Status().Update(ctx, u)
}

func (a upClusters) Wire(u *v1alpha1.ClusterUpdate) *eks.Update { return toWireUpdate(u) }

func (a upClusters) NodegroupVersions(ctx context.Context, c *v1alpha1.Cluster) ([]string, error) {
	ngs, err := nodegroups.List(ctx, a.s.store, c)
	if err != nil {
		return nil, err
	}
	out := make([]string, len(ngs))
	for i, ng := range ngs {
		out[i] = ng.Spec.Version
	}
	return out, nil
}
