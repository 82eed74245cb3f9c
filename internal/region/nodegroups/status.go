package nodegroups

import (
	"context"
	"fmt"

	"github.com/cellplane/cellplane/api/v1alpha1"
	"github.com/cellplane/cellplane/internal/eks"
)

// WireStatus is the group's EKS status: DELETING once deleted, CREATING
// until the cell reported it, UPDATING while the cell works on a spec newer
// than the one its status is of, else what the cell reports.
func WireStatus(ng *v1alpha1.NodeGroup) string {
	switch {
	case !ng.DeletionTimestamp.IsZero():
		return eks.NodegroupStatusDeleting
	case ng.Status.Phase == "":
		return eks.NodegroupStatusCreating
	case ng.Status.ObservedGeneration < ng.Generation && ng.Status.Phase != v1alpha1.NodeGroupCreating:
		return eks.NodegroupStatusUpdating
	}
	return ng.Status.Phase
}

// settled reports whether the cell has finished with the group's current
// spec, and how: an update made before is then decided.
func settled(ng *v1alpha1.NodeGroup) (bool, string) {
	if !ng.DeletionTimestamp.IsZero() || ng.Status.ObservedGeneration < ng.Generation {
		return false, ""
	}
	switch ng.Status.Phase {
	case v1alpha1.NodeGroupActive:
		return true, v1alpha1.UpdateSuccessful
	case v1alpha1.NodeGroupDegraded, v1alpha1.NodeGroupCreateFailed:
		return true, v1alpha1.UpdateFailed
	}
	return false, ""
}

// inProgress reports whether u is a node group update still running.
func inProgress(u *v1alpha1.ClusterUpdate) bool {
	return u.Status.Status == "" || u.Status.Status == v1alpha1.UpdateInProgress
}

// Settle decides the group's updates in progress from what the cell
// reported: every update was recorded after its spec change, so once the
// cell's status is of the current generation, all of them are over. A
// region restarted at any point decides them the same way.
func (o *Operations) Settle(ctx context.Context, ng *v1alpha1.NodeGroup, ups []v1alpha1.ClusterUpdate) error {
	done, outcome := settled(ng)
	if !done {
		return nil
	}
	for i := range ups {
		u := &ups[i]
		if u.Spec.NodegroupName != ng.Spec.NodegroupName || !inProgress(u) {
			continue
		}
		u.Status.Status = outcome
		if outcome == v1alpha1.UpdateFailed {
			for _, is := range ng.Status.Issues {
				u.Status.Errors = append(u.Status.Errors, v1alpha1.UpdateError{ErrorCode: is.Code, ErrorMessage: is.Message, ResourceIDs: is.ResourceIDs})
			}
		}
		if err := o.Store.Status().Update(ctx, u); err != nil {
			return fmt.Errorf("recording outcome of update %s of node group %s: %w", u.Spec.ID, ng.Spec.NodegroupName, err)
		}
	}
	return nil
}

// toWire renders a stored node group as EKS's Nodegroup.
func (o *Operations) toWire(account string, ng *v1alpha1.NodeGroup) *eks.Nodegroup {
	s := ng.Spec
	out := &eks.Nodegroup{
		NodegroupName: s.NodegroupName, ClusterName: s.ClusterName,
		NodegroupArn: fmt.Sprintf("arn:cellplane:eks:%s:%s:nodegroup/%s/%s/%s", o.Region, account, s.ClusterName, s.NodegroupName, ng.UID),
		Version:      s.Version, ReleaseVersion: s.ReleaseVersion,
		CreatedAt: eks.NewTimestamp(s.CreatedAt.Time), ModifiedAt: eks.NewTimestamp(s.ModifiedAt.Time),
		Status: WireStatus(ng), CapacityType: s.CapacityType,
		ScalingConfig: &eks.NodegroupScalingConfig{MinSize: ptr(s.Scaling.MinSize), MaxSize: ptr(s.Scaling.MaxSize), DesiredSize: ptr(s.Scaling.DesiredSize)},
		InstanceTypes: orEmpty(s.InstanceTypes), Subnets: orEmpty(s.Subnets), AmiType: s.AMIType, NodeRole: s.NodeRole,
		Labels: orEmptyMap(s.Labels), Taints: []eks.Taint{}, Tags: orEmptyMap(s.Tags),
		Resources:    &eks.NodegroupResources{AutoScalingGroups: []eks.AutoScalingGroup{}},
		Health:       &eks.NodegroupHealth{Issues: []eks.Issue{}},
		UpdateConfig: &eks.NodegroupUpdateConfig{MaxUnavailable: ptr(max(s.MaxUnavailable, 1))},
	}
	if s.DiskSize != 0 {
		out.DiskSize = ptr(s.DiskSize)
	}
	for _, t := range s.Taints {
		out.Taints = append(out.Taints, eks.Taint{Key: t.Key, Value: t.Value, Effect: t.Effect})
	}
	for _, z := range s.Zones {
		out.Resources.AutoScalingGroups = append(out.Resources.AutoScalingGroups, eks.AutoScalingGroup{Name: s.ClusterName + "-" + s.NodegroupName + "-" + z})
	}
	for _, is := range ng.Status.Issues {
		out.Health.Issues = append(out.Health.Issues, eks.Issue{Code: is.Code, Message: is.Message, ResourceIDs: is.ResourceIDs})
	}
	return out
}

func ptr[T any](v T) *T { return &v }

func orEmpty(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

func orEmptyMap(m map[string]string) map[string]string {
	if m == nil {
		return map[string]string{}
	}
	return m
}
