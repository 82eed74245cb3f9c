package nodegroups

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"time"

	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/cluster"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/source"

	corev1 "k8s.io/api/core/v1"

	"github.com/cellplane/cellplane/api/v1alpha1"
)

// annotationRegionGeneration is the region object's generation that the
// cell's copy holds the spec of: the cell's copy counts generations of its
// own, and the region's status must speak of the region's.
const annotationRegionGeneration = "cellplane.io/region-generation"

// Mirror copies the region's node groups of this cell's clusters into the
// cell's store, under the same namespace and name, and the cell's status
// back. A group deleted in the region (or whose cluster is gone) is deleted
// in the cell; the region's object keeps its finalizer until the cell's copy
// is gone, which is once the Reconciler has stopped its nodes.
type Mirror struct {
	Region   cluster.Cluster // the region's store, cached
	Cell     client.Client   // the cell's store
	CellName string
}

// SetupWithManager registers the mirror on the cell's manager, watching both
// copies: the cell's status changing goes up as the region's changing comes
// down.
func (m *Mirror) SetupWithManager(mgr ctrl.Manager) error {
	mine := predicate.NewTypedPredicateFuncs(func(ng *v1alpha1.NodeGroup) bool {
		return ng.Labels[v1alpha1.LabelCell] == m.CellName
	})
	return ctrl.NewControllerManagedBy(mgr).
		Named("nodegroupmirror").
		WatchesRawSource(source.Kind(m.Region.GetCache(), &v1alpha1.NodeGroup{},
			&handler.TypedEnqueueRequestForObject[*v1alpha1.NodeGroup]{}, mine)).
		Watches(&v1alpha1.NodeGroup{}, &handler.EnqueueRequestForObject{}).
		Complete(m)
}

// Reconcile brings one group's two copies together.
func (m *Mirror) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	reg := &v1alpha1.NodeGroup{}
	err := m.Region.GetClient().Get(ctx, req.NamespacedName, reg)
	switch {
	case apierrors.IsNotFound(err):
		return ctrl.Result{}, m.deleteCopy(ctx, req.NamespacedName)
	case err != nil:
		return ctrl.Result{}, fmt.Errorf("reading region node group: %w", err)
	case reg.Labels[v1alpha1.LabelCell] != m.CellName:
		return ctrl.Result{}, m.deleteCopy(ctx, req.NamespacedName)
	}
	live, err := m.ofLiveCluster(ctx, reg)
	if err != nil {
		return ctrl.Result{}, err
	}
	if !live || !reg.DeletionTimestamp.IsZero() {
		return m.release(ctx, reg)
	}
	cell, err := m.copy(ctx, reg)
	if err != nil {
		return ctrl.Result{}, err
	}
	return ctrl.Result{}, m.reportUp(ctx, reg, cell)
}

// ofLiveCluster reports whether the group belongs to the cluster of its
// name that exists now and is not being deleted.
func (m *Mirror) ofLiveCluster(ctx context.Context, ng *v1alpha1.NodeGroup) (bool, error) {
	c := &v1alpha1.Cluster{}
	key := client.ObjectKey{Namespace: ng.Namespace, Name: ng.Labels[v1alpha1.LabelCluster]}
	err := m.Region.GetClient().Get(ctx, key, c)
	if apierrors.IsNotFound(err) || err == nil && !slices.ContainsFunc(ng.OwnerReferences, func(o metav1.OwnerReference) bool { return o.UID == c.UID }) {
		// The cache may not show yet a cluster made a moment ago: a live
		// read confirms it is gone before its node groups are deleted.
		err = m.Region.GetAPIReader().Get(ctx, key, c)
	}
	switch {
	case apierrors.IsNotFound(err):
		return false, nil
	case err != nil:
		return false, fmt.Errorf("reading the region cluster of node group %s/%s: %w", ng.Namespace, ng.Name, err)
	case !c.DeletionTimestamp.IsZero():
		return false, nil
	}
	return slices.ContainsFunc(ng.OwnerReferences, func(o metav1.OwnerReference) bool { return o.UID == c.UID }), nil
}

// copy creates or updates the cell's copy, which the cell's finalizer holds
// until its nodes are gone.
func (m *Mirror) copy(ctx context.Context, reg *v1alpha1.NodeGroup) (*v1alpha1.NodeGroup, error) {
	if err := ensureNamespace(ctx, m.Cell, reg.Namespace); err != nil {
		return nil, err
	}
	ng := &v1alpha1.NodeGroup{ObjectMeta: metav1.ObjectMeta{Namespace: reg.Namespace, Name: reg.Name}}
	_, err := controllerutil.CreateOrPatch(ctx, m.Cell, ng, func() error {
		ng.Labels = reg.Labels
		if ng.Annotations == nil {
			ng.Annotations = map[string]string{}
		}
		ng.Annotations[annotationRegionGeneration] = strconv.FormatInt(reg.Generation, 10)
		controllerutil.AddFinalizer(ng, v1alpha1.FinalizerNodeGroup)
		ng.Spec = reg.Spec
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("copying node group %s/%s into the cell: %w", reg.Namespace, reg.Name, err)
	}
	return ng, nil
}

// reportUp writes the cell's status into the region's object, its
// observed generation translated to the region's.
func (m *Mirror) reportUp(ctx context.Context, reg, cell *v1alpha1.NodeGroup) error {
	st := cell.Status
	st.ObservedGeneration = reg.Status.ObservedGeneration
	if cell.Status.ObservedGeneration == cell.Generation && cell.Generation != 0 {
		if g, err := strconv.ParseInt(cell.Annotations[annotationRegionGeneration], 10, 64); err == nil && g == reg.Generation {
			st.ObservedGeneration = g
		}
	}
	if st.Phase == "" || equality.Semantic.DeepEqual(st, reg.Status) {
		return nil
	}
	reg.Status = st
	if err := m.Region.GetClient().Status().Update(ctx, reg); client.IgnoreNotFound(err) != nil {
		return fmt.Errorf("reporting node group %s/%s to the region: %w", reg.Namespace, reg.Name, err)
	}
	return nil
}

// release deletes the cell's copy and, once it is gone, lets the region's
// object go.
func (m *Mirror) release(ctx context.Context, reg *v1alpha1.NodeGroup) (ctrl.Result, error) {
	if err := m.deleteCopy(ctx, client.ObjectKeyFromObject(reg)); err != nil {
		return ctrl.Result{}, err
	}
	err := m.Cell.Get(ctx, client.ObjectKeyFromObject(reg), &v1alpha1.NodeGroup{})
	switch {
	case err == nil:
		// The Reconciler is stopping the nodes; the copy's removal wakes
		// this up, the requeue covers a missed event.
		return ctrl.Result{RequeueAfter: 5 * time.Second}, nil
	case !apierrors.IsNotFound(err):
		return ctrl.Result{}, fmt.Errorf("reading the cell's node group %s/%s: %w", reg.Namespace, reg.Name, err)
	}
	if reg.DeletionTimestamp.IsZero() {
		// Its cluster is gone: the region's object goes too.
		if err := m.Region.GetClient().Delete(ctx, reg); client.IgnoreNotFound(err) != nil {
			return ctrl.Result{}, fmt.Errorf("deleting node group %s/%s of a deleted cluster: %w", reg.Namespace, reg.Name, err)
		}
	}
	if controllerutil.RemoveFinalizer(reg, v1alpha1.FinalizerNodeGroup) {
		if err := m.Region.GetClient().Update(ctx, reg); client.IgnoreNotFound(err) != nil {
			return ctrl.Result{}, fmt.Errorf("releasing node group %s/%s: %w", reg.Namespace, reg.Name, err)
		}
	}
	return ctrl.Result{}, nil
}

// deleteCopy asks for the cell's copy to go; its finalizer holds it until
// the Reconciler has stopped its nodes.
func (m *Mirror) deleteCopy(ctx context.Context, key client.ObjectKey) error {
	ng := &v1alpha1.NodeGroup{ObjectMeta: metav1.ObjectMeta{Namespace: key.Namespace, Name: key.Name}}
	if err := m.Cell.Delete(ctx, ng); client.IgnoreNotFound(err) != nil {
		return fmt.Errorf("deleting node group %s from the cell: %w", key, err)
	}
	return nil
}

func ensureNamespace(ctx context.Context, c client.Client, name string) error {
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}
	if err := c.Create(ctx, ns); err != nil && !apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("creating namespace %s: %w", name, err)
	}
	return nil
}
