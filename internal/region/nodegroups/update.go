package nodegroups

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"strconv"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/cellplane/cellplane/api/v1alpha1"
	"github.com/cellplane/cellplane/internal/eks"
	"github.com/cellplane/cellplane/internal/eksinput"
	"github.com/cellplane/cellplane/internal/errdefs"
)

// UpdateConfig serves UpdateNodegroupConfig:
// POST /clusters/{name}/node-groups/{nodegroupName}/update-config.
// It changes the group's size, labels and taints as one ConfigUpdate.
func (o *Operations) UpdateConfig(r *http.Request) (any, error) {
	var in eks.UpdateNodegroupConfigInput
	if err := eksinput.DecodeBody(r, &in); err != nil {
		return nil, err
	}
	if err := checkUpdateConfig(&in); err != nil {
		return nil, err
	}
	return o.update(r, in.ClientRequestToken, eks.UpdateTypeConfig, func(spec *v1alpha1.NodeGroupSpec) ([]v1alpha1.UpdateParam, error) {
		return configChange(spec, &in)
	})
}

// checkUpdateConfig validates what an UpdateNodegroupConfig request says on
// its own.
func checkUpdateConfig(in *eks.UpdateNodegroupConfigInput) error {
	if err := eksinput.ValidateToken(in.ClientRequestToken); err != nil {
		return err
	}
	if in.Labels == nil && in.Taints == nil && in.ScalingConfig == nil && in.UpdateConfig == nil {
		return invalid("The request changes nothing: give labels, taints, scalingConfig or updateConfig.")
	}
	if in.UpdateConfig != nil {
		if err := updateConfig(in.UpdateConfig); err != nil {
			return err
		}
	}
	if l := in.Labels; l != nil {
		if err := validateLabels(l.AddOrUpdateLabels); err != nil {
			return err
		}
		for _, k := range l.RemoveLabels {
			if _, both := l.AddOrUpdateLabels[k]; both {
				return invalid("The label %s is both added and removed.", k)
			}
			if err := labelKey(k); err != nil {
				return err
			}
		}
	}
	if t := in.Taints; t != nil {
		if _, err := taints(t.AddOrUpdateTaints); err != nil {
			return err
		}
		for _, rm := range t.RemoveTaints {
			if err := labelKey(rm.Key); err != nil {
				return err
			}
		}
	}
	return nil
}

// configChange applies an UpdateNodegroupConfig to spec and returns the
// update's parameters; a result EKS would refuse is refused whole.
func configChange(spec *v1alpha1.NodeGroupSpec, in *eks.UpdateNodegroupConfigInput) ([]v1alpha1.UpdateParam, error) {
	var params []v1alpha1.UpdateParam
	add := func(typ string, v any) {
		s, ok := v.(string)
		if !ok {
			b, _ := json.Marshal(v)
			s = string(b)
		}
		params = append(params, v1alpha1.UpdateParam{Type: typ, Value: s})
	}
	if in.ScalingConfig != nil {
		size := applyScaling(spec.Scaling, in.ScalingConfig)
		if err := scaling(size); err != nil {
			return nil, err
		}
		spec.Scaling = size
		for _, f := range []struct {
			typ string
			v   *int32
		}{{eks.UpdateParamMinSize, in.ScalingConfig.MinSize}, {eks.UpdateParamMaxSize, in.ScalingConfig.MaxSize}, {eks.UpdateParamDesiredSize, in.ScalingConfig.DesiredSize}} {
			if f.v != nil {
				add(f.typ, strconv.Itoa(int(*f.v)))
			}
		}
	}
	if l := in.Labels; l != nil {
		labels := maps.Clone(spec.Labels)
		if labels == nil {
			labels = map[string]string{}
		}
		maps.Copy(labels, l.AddOrUpdateLabels)
		for _, k := range l.RemoveLabels {
			delete(labels, k)
		}
		if err := validateLabels(labels); err != nil {
			return nil, err
		}
		spec.Labels = labels
		if len(l.AddOrUpdateLabels) > 0 {
			add(eks.UpdateParamLabelsToAdd, l.AddOrUpdateLabels)
		}
		if len(l.RemoveLabels) > 0 {
			add(eks.UpdateParamLabelsToRemove, l.RemoveLabels)
		}
	}
	if t := in.Taints; t != nil {
		next, err := taintChange(spec.Taints, t)
		if err != nil {
			return nil, err
		}
		spec.Taints = next
		if len(t.AddOrUpdateTaints) > 0 {
			add(eks.UpdateParamTaintsToAdd, t.AddOrUpdateTaints)
		}
		if len(t.RemoveTaints) > 0 {
			add(eks.UpdateParamTaintsToRemove, t.RemoveTaints)
		}
	}
	if u := in.UpdateConfig; u != nil && u.MaxUnavailable != nil {
		spec.MaxUnavailable = *u.MaxUnavailable
		add(eks.UpdateParamMaxUnavailable, strconv.Itoa(int(*u.MaxUnavailable)))
	}
	return params, nil
}

// taintChange removes, then adds or replaces (by key and effect) taints.
func taintChange(cur []v1alpha1.NodeGroupTaint, in *eks.UpdateTaintsPayload) ([]v1alpha1.NodeGroupTaint, error) {
	adds, err := taints(in.AddOrUpdateTaints)
	if err != nil {
		return nil, err
	}
	out := slices.DeleteFunc(slices.Clone(cur), func(t v1alpha1.NodeGroupTaint) bool {
		return slices.ContainsFunc(in.RemoveTaints, func(rm eks.Taint) bool {
			return rm.Key == t.Key && (rm.Effect == "" || rm.Effect == t.Effect)
		})
	})
	for _, a := range adds {
		i := slices.IndexFunc(out, func(t v1alpha1.NodeGroupTaint) bool { return t.Key == a.Key && t.Effect == a.Effect })
		if i >= 0 {
			out[i] = a
		} else {
			out = append(out, a)
		}
	}
	if len(out) > MaxTaints {
		return nil, invalid("A node group has at most %d taints; the update would leave %d.", MaxTaints, len(out))
	}
	if len(out) == 0 {
		return nil, nil
	}
	return out, nil
}

// UpdateVersion serves UpdateNodegroupVersion:
// POST /clusters/{name}/node-groups/{nodegroupName}/update-version. The
// nodes are replaced, maxUnavailable at a time, with nodes of the release
// asked for (the offered release of the cluster's version by default).
func (o *Operations) UpdateVersion(r *http.Request) (any, error) {
	var in eks.UpdateNodegroupVersionInput
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
	minor, release, err := version(c, in.Version, in.ReleaseVersion)
	if err != nil {
		return nil, err
	}
	return o.update(r, in.ClientRequestToken, eks.UpdateTypeVersion, func(spec *v1alpha1.NodeGroupSpec) ([]v1alpha1.UpdateParam, error) {
		spec.Version, spec.ReleaseVersion = minor, release
		spec.Rollout++
		return []v1alpha1.UpdateParam{{Type: eks.UpdateParamVersion, Value: minor}, {Type: eks.UpdateParamReleaseVersion, Value: release}}, nil
	})
}

// update applies change to the group the path names and records its
// update. A retry with the token of an update made answers that update;
// a group that is not ACTIVE (one update at a time) is refused.
func (o *Operations) update(r *http.Request, token, typ string, change func(*v1alpha1.NodeGroupSpec) ([]v1alpha1.UpdateParam, error)) (any, error) {
	c, ng, err := o.ofRequest(r)
	if err != nil {
		return nil, err
	}
	ups, err := o.Clusters.Updates(r.Context(), c)
	if err != nil {
		return nil, err
	}
	if out := o.retried(ups, ng, token); out != nil {
		return out, nil
	}
	if err := o.Settle(r.Context(), ng, ups); err != nil {
		return nil, err
	}
	if st := WireStatus(ng); st != eks.NodegroupStatusActive {
		return nil, errdefs.Publicf(o.InUse, "Nodegroup %s of cluster %s is %s; it can be updated only when ACTIVE.", ng.Spec.NodegroupName, c.Spec.Name, st)
	}
	params, err := change(&ng.Spec)
	if err != nil {
		return nil, err
	}
	ng.Spec.ModifiedAt = metav1.Now()
	if err := o.Store.Update(r.Context(), ng); err != nil {
		if apierrors.IsConflict(err) || apierrors.IsNotFound(err) {
			return nil, errdefs.Publicf(o.InUse, "Nodegroup %s was changed by another request; retry.", ng.Spec.NodegroupName)
		}
		return nil, fmt.Errorf("storing node group %s: %w", ng.Spec.NodegroupName, err)
	}
	u, err := o.Clusters.Record(r.Context(), c, v1alpha1.ClusterUpdateSpec{
		Type: typ, NodegroupName: ng.Spec.NodegroupName, Params: params, ClientRequestToken: token,
	})
	if err != nil {
		return nil, err
	}
	o.Log.Info("updating node group", "cluster", c.Spec.Name, "nodegroup", ng.Spec.NodegroupName, "type", typ, "update", u.ID)
	return eks.UpdateOutput{Update: u}, nil
}

// retried answers the update a token made on this group, or nil.
func (o *Operations) retried(ups []v1alpha1.ClusterUpdate, ng *v1alpha1.NodeGroup, token string) any {
	if token == "" {
		return nil
	}
	for i := range ups {
		if ups[i].Spec.ClientRequestToken == token && ups[i].Spec.NodegroupName == ng.Spec.NodegroupName {
			return eks.UpdateOutput{Update: o.Clusters.Wire(&ups[i])}
		}
	}
	return nil
}

// Updates filters a cluster's updates for ListUpdates and DescribeUpdate:
// a node group's with nodegroupName (after settling them), the cluster's
// own without.
func (o *Operations) Updates(ctx context.Context, c *v1alpha1.Cluster, ups []v1alpha1.ClusterUpdate, nodegroup string) ([]v1alpha1.ClusterUpdate, error) {
	if nodegroup == "" {
		return slices.DeleteFunc(ups, func(u v1alpha1.ClusterUpdate) bool { return u.Spec.NodegroupName != "" }), nil
	}
	ng, err := o.get(ctx, c, nodegroup)
	if err != nil {
		return nil, err
	}
	if err := o.Settle(ctx, ng, ups); err != nil {
		return nil, err
	}
	return slices.DeleteFunc(ups, func(u v1alpha1.ClusterUpdate) bool { return u.Spec.NodegroupName != nodegroup }), nil
}
