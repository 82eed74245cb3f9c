package nodegroups

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"slices"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/cellplane/cellplane/api/v1alpha1"
	"github.com/cellplane/cellplane/internal/errdefs"
)

// NewObject builds the stored node group of a cluster: labelled with the
// cluster and cell, so the cell mirrors it, owned by the cluster's UID, so a
// group of an earlier cluster of the same name never counts for this one,
// and held by a finalizer until the cell has stopped its nodes.
func NewObject(c *v1alpha1.Cluster, spec v1alpha1.NodeGroupSpec) *v1alpha1.NodeGroup {
	ng := &v1alpha1.NodeGroup{
		ObjectMeta: metav1.ObjectMeta{
			Name:      ObjectName(c, spec.NodegroupName),
			Namespace: c.Namespace,
			Labels: map[string]string{
				v1alpha1.LabelAccount:   c.Labels[v1alpha1.LabelAccount],
				v1alpha1.LabelCluster:   c.Name,
				v1alpha1.LabelCell:      c.Spec.Cell,
				v1alpha1.LabelNodeGroup: spec.NodegroupName,
			},
			Finalizers: []string{v1alpha1.FinalizerNodeGroup},
		},
		Spec: spec,
	}
	if c.UID != "" {
		ng.OwnerReferences = []metav1.OwnerReference{{
			APIVersion: v1alpha1.GroupVersion.String(), Kind: "Cluster", Name: c.Name, UID: c.UID,
		}}
	}
	return ng
}

// ObjectName names the object of a cluster's node group: a hash, since
// node group names may hold capitals and underscores, and deterministic, so
// the store itself refuses a second group of the same name.
func ObjectName(c *v1alpha1.Cluster, name string) string {
	sum := sha256.Sum256([]byte(c.Name + "\n" + name))
	return "ng-" + hex.EncodeToString(sum[:16])
}

// ownedBy reports whether ng belongs to this incarnation of c.
func ownedBy(ng *v1alpha1.NodeGroup, c *v1alpha1.Cluster) bool {
	if c.UID == "" {
		return true
	}
	return slices.ContainsFunc(ng.OwnerReferences, func(ref metav1.OwnerReference) bool { return ref.UID == c.UID })
}

// notFound is EKS's answer for an unknown node group.
func notFound(name string) error {
	return errdefs.Publicf(errdefs.ErrNotFound, "No node group found for name: %s.", name)
}

// get reads a cluster's node group.
func (o *Operations) get(ctx context.Context, c *v1alpha1.Cluster, name string) (*v1alpha1.NodeGroup, error) {
	var ng v1alpha1.NodeGroup
	err := o.Store.Get(ctx, client.ObjectKey{Namespace: c.Namespace, Name: ObjectName(c, name)}, &ng)
	if apierrors.IsNotFound(err) || (err == nil && (ng.Spec.NodegroupName != name || !ownedBy(&ng, c))) {
		return nil, notFound(name)
	}
	if err != nil {
		return nil, fmt.Errorf("getting node group %s of cluster %s: %w", name, c.Spec.Name, err)
	}
	return &ng, nil
}

// List returns a cluster's node groups.
func List(ctx context.Context, r client.Reader, c *v1alpha1.Cluster) ([]v1alpha1.NodeGroup, error) {
	var list v1alpha1.NodeGroupList
	err := r.List(ctx, &list, client.InNamespace(c.Namespace), client.MatchingLabels{v1alpha1.LabelCluster: c.Name})
	if err != nil {
		return nil, fmt.Errorf("listing node groups of cluster %s: %w", c.Spec.Name, err)
	}
	return slices.DeleteFunc(list.Items, func(ng v1alpha1.NodeGroup) bool { return !ownedBy(&ng, c) }), nil
}
