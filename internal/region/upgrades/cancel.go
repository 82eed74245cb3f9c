package upgrades

import (
	"net/http"
	"slices"

	"github.com/cellplane/cellplane/api/v1alpha1"
	"github.com/cellplane/cellplane/internal/clusterversions"
	"github.com/cellplane/cellplane/internal/eks"
	"github.com/cellplane/cellplane/internal/eksinput"
	"github.com/cellplane/cellplane/internal/errdefs"
)

// Cancel serves CancelUpdate: POST /clusters/{name}/updates/{updateId}/cancel-update.
// Only a version update still running can be cancelled: the wanted minor
// goes back to the one the cluster runs, and the cell brings any member it
// moved back. The update ends Cancelled once every member is back.
func (o *Operations) Cancel(r *http.Request) (any, error) {
	var in eks.CancelUpdateInput
	if err := eksinput.DecodeBody(r, &in); err != nil {
		return nil, err
	}
	if err := eksinput.ValidateToken(in.ClientRequestToken); err != nil {
		return nil, err
	}
	c, err := o.Clusters.Cluster(r)
	if err != nil {
		return nil, err
	}
	ctx := r.Context()
	ups, err := o.Clusters.Updates(ctx, c)
	if err != nil {
		return nil, err
	}
	id := r.PathValue("updateId")
	i := slices.IndexFunc(ups, func(u v1alpha1.ClusterUpdate) bool { return u.Spec.ID == id })
	if i < 0 {
		return nil, errdefs.Publicf(errdefs.ErrNotFound, "No update found for ID: %s.", id)
	}
	u := &ups[i]
	o.Settle(ctx, c, u)
	if !isVersionUpdate(u) {
		return nil, errdefs.Publicf(errdefs.ErrInvalidRequest, "Update %s is a %s; only a VersionUpdate or VersionRollback can be cancelled.", id, u.Spec.Type)
	}
	if st := o.Clusters.Wire(u).Status; st != eks.UpdateStatusInProgress {
		return nil, errdefs.Publicf(errdefs.ErrInvalidRequest, "Update %s is %s; only an update in progress can be cancelled.", id, st)
	}
	if u.Status.Cancellation == nil {
		err = o.Clusters.Change(ctx, o.Clusters.Account(r), c, func(c *v1alpha1.Cluster) error {
			if c.Spec.VersionUpdateID != id {
				return errdefs.Publicf(errdefs.ErrInvalidRequest, "Update %s no longer sets the version of cluster %s.", id, c.Spec.Name)
			}
			back := clusterversions.RunningMinor(c)
			if ro := c.Status.Rollout; ro != nil && ro.UpdateID == id && !ro.Finished() {
				back = clusterversions.MinorOf(ro.From)
			}
			c.Spec.Version = back
			return nil
		})
		if err != nil {
			return nil, err
		}
		u.Status.Cancellation = &v1alpha1.UpdateCancellation{Status: eks.UpdateStatusInProgress, Reason: "bringing every moved member back"}
		if err := o.Clusters.SaveStatus(ctx, u); err != nil {
			return nil, err
		}
	}
	return eks.UpdateOutput{Update: o.Clusters.Wire(u)}, nil
}
