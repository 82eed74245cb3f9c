package addons

import (
	"fmt"
	"maps"

	"github.com/cellplane/cellplane/api/v1alpha1"
	"github.com/cellplane/cellplane/internal/eks"
	"github.com/cellplane/cellplane/internal/redact"
)

// Status is an add-on's EKS status, from what the cell last reported:
// DELETING once deleted; CREATING or UPDATING while the cell has not
// applied the current generation; CREATE_FAILED when the first apply
// failed; DEGRADED when a later apply failed or the workloads are not
// available (health issues say why); ACTIVE otherwise.
func Status(a *v1alpha1.Addon) string {
	st := a.Status
	switch {
	case !a.DeletionTimestamp.IsZero():
		return eks.AddonStatusDeleting
	case st.ObservedGeneration < a.Generation && !st.EverApplied:
		return eks.AddonStatusCreating
	case st.ObservedGeneration < a.Generation:
		return eks.AddonStatusUpdating
	case st.Result == v1alpha1.AddonFailed && !st.EverApplied:
		return eks.AddonStatusCreateFailed
	case st.Result == v1alpha1.AddonFailed || len(st.Issues) > 0:
		return eks.AddonStatusDegraded
	}
	return eks.AddonStatusActive
}

// Updating reports whether the cell has yet to apply the add-on's current
// generation: an update runs, and another update or a delete must wait.
func Updating(a *v1alpha1.Addon) bool {
	return a.Status.ObservedGeneration < a.Generation
}

// toWire is an add-on as EKS describes it.
func (o *Operations) toWire(c *v1alpha1.Cluster, a *v1alpha1.Addon) *eks.Addon {
	tags := maps.Clone(a.Spec.Tags)
	if tags == nil {
		tags = map[string]string{}
	}
	health := &eks.AddonHealth{Issues: []eks.AddonIssue{}}
	if Status(a) == eks.AddonStatusDegraded || Status(a) == eks.AddonStatusCreateFailed {
		for _, i := range a.Status.Issues {
			health.Issues = append(health.Issues, eks.AddonIssue{Code: i.Code, Message: redact.Text(i.Message), ResourceIDs: i.ResourceIDs})
		}
	}
	return &eks.Addon{
		AddonName: a.Spec.AddonName, ClusterName: c.Spec.Name, Status: Status(a), AddonVersion: a.Spec.AddonVersion,
		Health: health, AddonArn: o.arn(c, a), Tags: tags, ConfigurationValues: a.Spec.ConfigurationValues,
		CreatedAt: eks.NewTimestamp(a.Spec.CreatedAt.Time), ModifiedAt: eks.NewTimestamp(a.Spec.ModifiedAt.Time),
		Publisher: eks.AddonPublisher, Owner: eks.AddonOwner,
	}
}

// arn is the add-on's ARN, in EKS's form.
func (o *Operations) arn(c *v1alpha1.Cluster, a *v1alpha1.Addon) string {
	return fmt.Sprintf("arn:cellplane:eks:%s:%s:addon/%s/%s/%s", o.Region, c.Labels[v1alpha1.LabelAccount], c.Spec.Name, a.Spec.AddonName, a.Spec.ID)
}
