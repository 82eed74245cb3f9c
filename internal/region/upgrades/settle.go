package upgrades

import (
	"context"

	"github.com/cellplane/cellplane/api/v1alpha1"
	"github.com/cellplane/cellplane/internal/clusterversions"
	"github.com/cellplane/cellplane/internal/eks"
)

// Settle ends a version update still in progress once the cell's rollout
// for it ended, and stores the result: Successful, Failed with the cell's
// reason, or Cancelled. An update the cell never started because it was
// cancelled first is Cancelled too. Anything else stays in progress.
func (o *Operations) Settle(ctx context.Context, c *v1alpha1.Cluster, u *v1alpha1.ClusterUpdate) {
	if !isVersionUpdate(u) || u.Status.Status != "" && u.Status.Status != v1alpha1.UpdateInProgress {
		return
	}
	ro := c.Status.Rollout
	cancelled := u.Status.Cancellation != nil
	switch {
	case ro != nil && ro.UpdateID == u.Spec.ID && ro.Finished():
		switch ro.Phase {
		case v1alpha1.RolloutSuccessful:
			u.Status.Status = v1alpha1.UpdateSuccessful
			if cancelled {
				u.Status.Cancellation = &v1alpha1.UpdateCancellation{Status: eks.UpdateStatusFailed, Reason: "the update had finished before it could be cancelled"}
			}
		case v1alpha1.RolloutFailed:
			u.Status.Status = v1alpha1.UpdateFailed
			u.Status.Errors = []v1alpha1.UpdateError{{ErrorCode: "Unknown", ErrorMessage: ro.Error + "; the cluster runs " + ro.From, ResourceIDs: []string{c.Spec.Name}}}
		default:
			u.Status.Status = v1alpha1.UpdateCancelled
			u.Status.Cancellation = &v1alpha1.UpdateCancellation{Status: eks.UpdateStatusSuccessful, Reason: ro.Message}
		}
	case cancelled && (ro == nil || ro.UpdateID != u.Spec.ID) && c.Spec.VersionUpdateID == u.Spec.ID && c.Spec.Version == clusterversions.RunningMinor(c):
		// Cancelled before the cell began: spec.version went back and nothing moved.
		u.Status.Status = v1alpha1.UpdateCancelled
		u.Status.Cancellation = &v1alpha1.UpdateCancellation{Status: eks.UpdateStatusSuccessful, Reason: "cancelled before any member moved"}
	default:
		return
	}
	if err := o.Clusters.SaveStatus(ctx, u); err != nil {
		o.Log.Warn("recording the end of a version update", "update", u.Spec.ID, "err", err)
	}
}

func isVersionUpdate(u *v1alpha1.ClusterUpdate) bool {
	return u.Spec.NodegroupName == "" && (u.Spec.Type == eks.UpdateTypeVersion || u.Spec.Type == eks.UpdateTypeVersionRollback)
}

// Progress is the cell's progress on version update u of c, for
// DescribeUpdate; nil for any other update or before the cell began it.
func Progress(c *v1alpha1.Cluster, u *v1alpha1.ClusterUpdate) *eks.Rollout {
	if ro := c.Status.Rollout; isVersionUpdate(u) && ro != nil && ro.UpdateID == u.Spec.ID {
		return eks.RolloutOf(ro).ForTenant()
	}
	return nil
}
