package addons

import (
	"context"
	"errors"

	"github.com/cellplane/cellplane/api/v1alpha1"
	"github.com/cellplane/cellplane/internal/eks"
	"github.com/cellplane/cellplane/internal/errdefs"
)

// SettleUpdate ends an AddonUpdate of c once the cell has applied the
// generation it made: Successful when the apply went through, Failed with
// the add-on's health issues when it did not, Cancelled when the add-on
// went first. DescribeUpdate calls it: reading is what moves an update, so
// a region restarted in between still settles it.
func (o *Operations) SettleUpdate(ctx context.Context, c *v1alpha1.Cluster, u *v1alpha1.ClusterUpdate) {
	if u.Spec.Type != eks.UpdateTypeAddonUpdate || (u.Status.Status != "" && u.Status.Status != v1alpha1.UpdateInProgress) {
		return
	}
	a, err := o.get(ctx, c, u.Spec.Addon)
	switch {
	case errors.Is(err, errdefs.ErrNotFound):
		u.Status.Status = v1alpha1.UpdateCancelled
	case err != nil:
		o.Log.Warn("reading the add-on of an update", "update", u.Spec.ID, "err", err)
		return
	case a.Spec.UpdateID == u.Spec.ID && Updating(a):
		return
	case a.Spec.UpdateID == u.Spec.ID && a.Status.Result == v1alpha1.AddonFailed:
		u.Status.Status, u.Status.Errors = v1alpha1.UpdateFailed, errorsOf(a)
	default:
		// Applied, or superseded: a later update starts only once this
		// one's generation was applied, and UpdateAddon settles the earlier
		// ones before it records its own.
		u.Status.Status = v1alpha1.UpdateSuccessful
	}
	if err := o.Store.Status().Update(ctx, u); err != nil {
		o.Log.Warn("recording the end of an add-on update", "update", u.Spec.ID, "err", err)
	}
}

// settleAll settles the add-on's updates still in progress.
func (o *Operations) settleAll(ctx context.Context, c *v1alpha1.Cluster, addon string) {
	ups, err := o.updates().List(ctx, c)
	if err != nil {
		o.Log.Warn("listing updates to settle", "cluster", c.Spec.Name, "err", err)
		return
	}
	for i := range ups {
		if ups[i].Spec.Addon == addon {
			o.SettleUpdate(ctx, c, &ups[i])
		}
	}
}

// fail ends an update that never reached the add-on.
func (o *Operations) fail(ctx context.Context, u *v1alpha1.ClusterUpdate, why string) {
	u.Status.Status = v1alpha1.UpdateFailed
	u.Status.Errors = []v1alpha1.UpdateError{{ErrorCode: "Unknown", ErrorMessage: why}}
	if err := o.Store.Status().Update(ctx, u); err != nil {
		o.Log.Warn("recording a failed add-on update", "update", u.Spec.ID, "err", err)
	}
}

// errorsOf are an add-on's health issues as an update's errors.
func errorsOf(a *v1alpha1.Addon) []v1alpha1.UpdateError {
	out := []v1alpha1.UpdateError{}
	for _, i := range a.Status.Issues {
		out = append(out, v1alpha1.UpdateError{ErrorCode: i.Code, ErrorMessage: i.Message, ResourceIDs: i.ResourceIDs})
	}
	return out
}

// Of keeps the updates ListUpdates and DescribeUpdate show for an addonName
// ("" for the cluster's own): an add-on's updates only under its name.
func Of(ups []v1alpha1.ClusterUpdate, addon string) []v1alpha1.ClusterUpdate {
	out := ups[:0:0]
	for _, u := range ups {
		if u.Spec.Addon == addon {
			out = append(out, u)
		}
	}
	return out
}
