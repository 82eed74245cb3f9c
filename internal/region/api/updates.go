package api

import (
	"context"
	"errors"
	"net/http"
	"slices"

	"github.com/cellplane/cellplane/api/v1alpha1"
	"github.com/cellplane/cellplane/internal/clusterupdates"
	"github.com/cellplane/cellplane/internal/eks"
	"github.com/cellplane/cellplane/internal/errdefs"
	"github.com/cellplane/cellplane/internal/paging"
	"github.com/cellplane/cellplane/internal/region/addons"
	"github.com/cellplane/cellplane/internal/region/upgrades"
)

// updatesOfRequest returns the updates of the cluster a request names: an
// add-on's with addonName, a node group's with nodegroupName, the cluster's
// own without either, after refusing the capability filter.
func (s *server) updatesOfRequest(r *http.Request) (*v1alpha1.Cluster, []v1alpha1.ClusterUpdate, error) {
	c, err := s.clusterOfRequest(r)
	if err != nil {
		return nil, nil, err
	}
	if err := refuseSubresource(r); err != nil {
		return nil, nil, err
	}
	addon := r.URL.Query().Get("addonName")
	if addon != "" {
		if err := s.addons.Require(r.Context(), c, addon); err != nil {
			return nil, nil, err
		}
	}
	ups, err := s.updatesOf(r.Context(), c)
	if err != nil {
		return nil, nil, err
	}
	ups, err = s.nodegroups.Updates(r.Context(), c, addons.Of(ups, addon), r.URL.Query().Get("nodegroupName"))
	return c, ups, err
}

// describeUpdate serves DescribeUpdate: GET /clusters/{name}/updates/{updateId}.
func (s *server) describeUpdate(r *http.Request) (any, error) {
	c, ups, err := s.updatesOfRequest(r)
	if err != nil {
		return nil, err
	}
	id := r.PathValue("updateId")
	i := slices.IndexFunc(ups, func(u v1alpha1.ClusterUpdate) bool { return u.Spec.ID == id })
	if i < 0 {
		return nil, errdefs.Publicf(errdefs.ErrNotFound, "No update found for ID: %s.", id)
	}
	s.settleEncryptionUpdate(r.Context(), &ups[i])
	s.idps.SettleUpdate(r.Context(), c, &ups[i])
	s.addons.SettleUpdate(r.Context(), c, &ups[i])
	s.upgrades.Settle(r.Context(), c, &ups[i])
	out := toWireUpdate(&ups[i])
	out.Cellplane = upgrades.Progress(c, &ups[i])
	return eks.UpdateOutput{Update: out}, nil
}

// listUpdates serves ListUpdates: GET /clusters/{name}/updates?maxResults=N&nextToken=T.
// Pages are cut from the update objects' names in byte order, as ListClusters
// cuts its pages from cluster names.
func (s *server) listUpdates(r *http.Request) (any, error) {
	q := r.URL.Query()
	limit, err := paging.ParseLimit(q.Get("maxResults"), eks.MinListUpdatesResults, eks.MaxListUpdatesResults, eks.DefaultListUpdatesResults)
	if err != nil {
		return nil, err
	}
	after, err := decodeToken(q.Get("nextToken"))
	if err != nil {
		return nil, err
	}
	_, ups, err := s.updatesOfRequest(r)
	if err != nil {
		return nil, err
	}
	names := make([]string, len(ups))
	ids := make(map[string]string, len(ups))
	for i, u := range ups {
		names[i], ids[u.Name] = u.Name, u.Spec.ID
	}
	page, next := paging.Page(names, after, limit)
	out := eks.ListUpdatesOutput{UpdateIDs: make([]string, len(page)), NextToken: next}
	for i, n := range page {
		out.UpdateIDs[i] = ids[n]
	}
	return out, nil
}

// clusterOfRequest fetches the cluster named in the path.
func (s *server) clusterOfRequest(r *http.Request) (*v1alpha1.Cluster, error) {
	name := r.PathValue("name")
	noteCluster(r, name)
	return s.getCluster(r.Context(), accountFor(r), name)
}

// refuseSubresource answers the capability filter of
// DescribeUpdate and ListUpdates: cellplane has none of those resources.
func refuseSubresource(r *http.Request) error {
	q := r.URL.Query()
	for _, f := range []struct{ param, kind string }{
		{"capabilityName", "capability"},
	} {
		if v := q.Get(f.param); v != "" {
			return errdefs.Publicf(errdefs.ErrNotFound, "No %s found for name: %s.", f.kind, v)
		}
	}
	return nil
}

// updatesOf lists a cluster's updates sorted by object name.
func (s *server) updatesOf(ctx context.Context, c *v1alpha1.Cluster) ([]v1alpha1.ClusterUpdate, error) {
	ups, err := s.updates().List(ctx, c)
	if err != nil {
		return nil, err
	}
	return s.settleCA(ctx, c, ups)
}

// updateByToken returns the cluster's update made with token, or nil
// (clusterupdates.ByToken).
func (s *server) updateByToken(ctx context.Context, c *v1alpha1.Cluster, token, typ string, params []v1alpha1.UpdateParam) (*v1alpha1.ClusterUpdate, error) {
	if token == "" {
		return nil, nil
	}
	ups, err := s.updatesOf(ctx, c)
	if err != nil {
		return nil, err
	}
	return clusterupdates.ByToken(ups, c.Spec.Name, token, typ, params)
}

// recordUpdate stores an update of c with the given status; a cluster whose
// every kept record is in progress is refused one more.
func (s *server) recordUpdate(ctx context.Context, c *v1alpha1.Cluster, spec v1alpha1.ClusterUpdateSpec, status string) (*v1alpha1.ClusterUpdate, error) {
	u, err := s.updates().Record(ctx, c, spec, status)
	if errors.Is(err, clusterupdates.ErrFull) {
		return nil, errdefs.Publicf(errdefs.ErrLimitExceeded, "Cluster %s keeps at most %d update records, and too many of them are in progress to make room; retry once one finishes.", c.Spec.Name, clusterupdates.MaxPerCluster)
	}
	return u, err
}

// toWireUpdate renders a stored update as EKS's Update.
func toWireUpdate(u *v1alpha1.ClusterUpdate) *eks.Update { return clusterupdates.Wire(u) }

// updates is the store of update records, on the API's store client.
func (s *server) updates() *clusterupdates.Records {
	return &clusterupdates.Records{Client: s.store, Log: s.log}
}
