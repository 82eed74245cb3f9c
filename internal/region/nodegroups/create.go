package nodegroups

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/cellplane/cellplane/api/v1alpha1"
	"github.com/cellplane/cellplane/internal/eks"
	"github.com/cellplane/cellplane/internal/eksinput"
	"github.com/cellplane/cellplane/internal/errdefs"
)

// Create serves CreateNodegroup: POST /clusters/{name}/node-groups.
func (o *Operations) Create(r *http.Request) (any, error) {
	var in eks.CreateNodegroupInput
	if err := eksinput.DecodeBody(r, &in); err != nil {
		return nil, err
	}
	if err := checkCreate(&in); err != nil {
		return nil, err
	}
	c, err := o.Clusters.Cluster(r)
	if err != nil {
		return nil, err
	}
	if err := o.Clusters.RequireActive(c); err != nil {
		return nil, err
	}
	spec, err := specOf(c, &in)
	if err != nil {
		return nil, err
	}
	ng, err := o.store(r.Context(), c, spec)
	if err != nil {
		return nil, err
	}
	o.Log.Info("created node group", "cluster", c.Spec.Name, "nodegroup", spec.NodegroupName, "amiType", spec.AMIType, "desiredSize", spec.Scaling.DesiredSize)
	return eks.NodegroupOutput{Nodegroup: o.toWire(o.Clusters.Account(r), ng)}, nil
}

// checkCreate validates what a CreateNodegroup request says on its own.
func checkCreate(in *eks.CreateNodegroupInput) error {
	if err := validateName(in.NodegroupName); err != nil {
		return err
	}
	switch {
	case len(in.Subnets) == 0:
		return invalid("The subnets are required: name at least one (a zone name, a, b or c, spreads the nodes over it).")
	case in.NodeRole == "":
		return invalid("The nodeRole is required.")
	case in.DiskSize != nil && *in.DiskSize < 1:
		return invalid("The diskSize must be at least 1; got %d.", *in.DiskSize)
	case in.CapacityType != "" && in.CapacityType != "ON_DEMAND":
		return invalid("The capacityType %s is not offered: cellplane offers ON_DEMAND.", in.CapacityType)
	}
	if in.UpdateConfig != nil {
		if err := updateConfig(in.UpdateConfig); err != nil {
			return err
		}
	}
	for _, check := range []error{validateLabels(in.Labels), eksinput.ValidateTags(in.Tags), eksinput.ValidateToken(in.ClientRequestToken)} {
		if check != nil {
			return check
		}
	}
	return nil
}

// updateConfig checks an updateConfig: cellplane takes maxUnavailable.
func updateConfig(u *eks.NodegroupUpdateConfig) error {
	switch {
	case u.MaxUnavailable != nil && (*u.MaxUnavailable < 1 || *u.MaxUnavailable > 100):
		return invalid("The updateConfig maxUnavailable must be from 1 to 100; got %d.", *u.MaxUnavailable)
	case u.MaxUnavailablePercentage != nil:
		return invalid("The updateConfig maxUnavailablePercentage is not offered: give maxUnavailable.")
	case u.UpdateStrategy != "" && u.UpdateStrategy != "DEFAULT":
		return invalid("The updateConfig updateStrategy %s is not offered: cellplane offers DEFAULT.", u.UpdateStrategy)
	}
	return nil
}

// specOf builds the node group a CreateNodegroup request asks for, defaults
// filled in, checked against its cluster.
func specOf(c *v1alpha1.Cluster, in *eks.CreateNodegroupInput) (v1alpha1.NodeGroupSpec, error) {
	kind, err := amiType(in.AmiType)
	if err != nil {
		return v1alpha1.NodeGroupSpec{}, err
	}
	size := applyScaling(v1alpha1.NodeGroupScaling{MinSize: defaultMinSize, MaxSize: defaultMaxSize, DesiredSize: defaultDesiredSize}, in.ScalingConfig)
	if err := scaling(size); err != nil {
		return v1alpha1.NodeGroupSpec{}, err
	}
	ts, err := taints(in.Taints)
	if err != nil {
		return v1alpha1.NodeGroupSpec{}, err
	}
	minor, release, err := version(c, in.Version, in.ReleaseVersion)
	if err != nil {
		return v1alpha1.NodeGroupSpec{}, err
	}
	now := metav1.Now()
	spec := v1alpha1.NodeGroupSpec{
		ClusterName: c.Spec.Name, NodegroupName: in.NodegroupName, AMIType: kind, Version: minor, ReleaseVersion: release,
		Scaling: size, MaxUnavailable: 1, Labels: in.Labels, Taints: ts, Zones: zonesOf(in.Subnets),
		Subnets: in.Subnets, InstanceTypes: in.InstanceTypes, CapacityType: "ON_DEMAND", NodeRole: in.NodeRole,
		Tags: in.Tags, ClientRequestToken: in.ClientRequestToken, CreatedAt: now, ModifiedAt: now,
	}
	if len(ts) == 0 {
		spec.Taints = nil
	}
	if in.DiskSize != nil {
		spec.DiskSize = *in.DiskSize
	}
	if in.UpdateConfig != nil && in.UpdateConfig.MaxUnavailable != nil {
		spec.MaxUnavailable = *in.UpdateConfig.MaxUnavailable
	}
	return spec, nil
}

// store creates the node group's object. A retry of the call that made it
// (same clientRequestToken) answers the group; any other group of the name
// is in use. One left behind by an earlier cluster of the same name (the
// region store has no garbage collector) is replaced once the cell let go
// of it.
func (o *Operations) store(ctx context.Context, c *v1alpha1.Cluster, spec v1alpha1.NodeGroupSpec) (*v1alpha1.NodeGroup, error) {
	ng := NewObject(c, spec)
	err := o.Store.Create(ctx, ng)
	if err == nil {
		return ng, nil
	}
	if !apierrors.IsAlreadyExists(err) {
		return nil, fmt.Errorf("storing node group %s: %w", spec.NodegroupName, err)
	}
	old, err := o.get(ctx, c, spec.NodegroupName)
	switch {
	case err == nil && spec.ClientRequestToken != "" && old.Spec.ClientRequestToken == spec.ClientRequestToken:
		return old, nil
	case err == nil:
		return nil, errdefs.Publicf(errdefs.ErrAlreadyExists, "NodeGroup already exists with name %s and cluster name %s", spec.NodegroupName, c.Spec.Name)
	case !errors.Is(err, errdefs.ErrNotFound):
		return nil, err
	}
	stale := &v1alpha1.NodeGroup{ObjectMeta: metav1.ObjectMeta{Namespace: c.Namespace, Name: ObjectName(c, spec.NodegroupName)}}
	if err := o.Store.Delete(ctx, stale); client.IgnoreNotFound(err) != nil {
		return nil, fmt.Errorf("deleting stale node group %s: %w", spec.NodegroupName, err)
	}
	return nil, errdefs.Publicf(o.InUse, "A node group %s of an earlier cluster named %s is still being deleted; retry in a minute.", spec.NodegroupName, c.Spec.Name)
}

// orderedNames are the groups' names in byte order.
func orderedNames(groups []v1alpha1.NodeGroup) []string {
	names := make([]string, 0, len(groups))
	for _, ng := range groups {
		names = append(names, ng.Spec.NodegroupName)
	}
	slices.Sort(names)
	return names
}
