package addons

import (
	"context"
	"fmt"
	"reflect"
	"slices"
	"strconv"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/cluster"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/source"

	"github.com/cellplane/cellplane/api/v1alpha1"
)

// Mirror copies the region's add-ons of this cell's clusters into the
// cell's store, under the same namespace and name, and the cell's status of
// each back to the region. A region add-on being deleted has its copy
// deleted, and keeps its finalizer until the copy is gone, that is until
// the Reconciler removed (or let go of) its objects.
type Mirror struct {
	Region   cluster.Cluster // the region's store, cached
	Cell     client.Client   // the cell's store
	CellName string
}

// SetupWithManager registers the mirror on the cell's agent manager. It
// watches both copies and the region's clusters, whose deletion takes their
// add-ons with them.
func (m *Mirror) SetupWithManager(mgr ctrl.Manager) error {
	mine := predicate.NewTypedPredicateFuncs(func(a *v1alpha1.Addon) bool {
		return a.Labels[v1alpha1.LabelCell] == m.CellName
	})
	myClusters := predicate.NewTypedPredicateFuncs(func(c *v1alpha1.Cluster) bool { return c.Spec.Cell == m.CellName })
	return ctrl.NewControllerManagedBy(mgr).
		Named("addonmirror").
		WatchesRawSource(source.Kind(m.Region.GetCache(), &v1alpha1.Addon{},
			&handler.TypedEnqueueRequestForObject[*v1alpha1.Addon]{}, mine)).
		WatchesRawSource(source.Kind(m.Region.GetCache(), &v1alpha1.Cluster{},
			handler.TypedEnqueueRequestsFromMapFunc(m.addonsOf), myClusters)).
		Watches(&v1alpha1.Addon{}, &handler.EnqueueRequestForObject{}).
		Complete(m)
}

// addonsOf names the region's add-ons of a cluster.
func (m *Mirror) addonsOf(ctx context.Context, c *v1alpha1.Cluster) []ctrl.Request {
	var l v1alpha1.AddonList
	err := m.Region.GetClient().List(ctx, &l, client.InNamespace(c.Namespace), client.MatchingLabels{v1alpha1.LabelCluster: c.Name})
	if err != nil {
		return nil // the cache is stopping; the add-ons' own events bring them back
	}
	reqs := make([]ctrl.Request, 0, len(l.Items))
	for _, a := range l.Items {
		reqs = append(reqs, ctrl.Request{NamespacedName: client.ObjectKeyFromObject(&a)})
	}
	return reqs
}

// Reconcile brings one add-on's two copies together.
func (m *Mirror) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	reg := &v1alpha1.Addon{}
	err := m.Region.GetClient().Get(ctx, req.NamespacedName, reg)
	switch {
	case apierrors.IsNotFound(err):
		return ctrl.Result{}, m.deleteCopy(ctx, req.NamespacedName)
	case err != nil:
		return ctrl.Result{}, fmt.Errorf("reading region add-on: %w", err)
	case reg.Labels[v1alpha1.LabelCell] != m.CellName:
		return ctrl.Result{}, m.deleteCopy(ctx, req.NamespacedName)
	}
	live, err := m.ofLiveCluster(ctx, reg)
	if err != nil {
		return ctrl.Result{}, err
	}
	if !live {
		// The cluster is going or gone, and its add-ons' objects with it.
		if err := m.deleteCopy(ctx, req.NamespacedName); err != nil {
			return ctrl.Result{}, err
		}
		return ctrl.Result{}, m.dropRegion(ctx, reg)
	}
	if !reg.DeletionTimestamp.IsZero() {
		return ctrl.Result{}, m.release(ctx, reg)
	}
	cp, err := m.copy(ctx, reg)
	if err != nil {
		return ctrl.Result{}, err
	}
	return ctrl.Result{}, m.pushStatus(ctx, reg, cp)
}

// ofLiveCluster reports whether the add-on belongs to the cluster of its
// name that exists now and is not being deleted.
func (m *Mirror) ofLiveCluster(ctx context.Context, a *v1alpha1.Addon) (bool, error) {
	c := &v1alpha1.Cluster{}
	key := client.ObjectKey{Namespace: a.Namespace, Name: a.Labels[v1alpha1.LabelCluster]}
	err := m.Region.GetClient().Get(ctx, key, c)
	if apierrors.IsNotFound(err) || err == nil && !slices.ContainsFunc(a.OwnerReferences, func(o metav1.OwnerReference) bool { return o.UID == c.UID }) {
		// The cache may not show yet a cluster made a moment ago: a live
		// read confirms it is gone before its add-ons are deleted.
		err = m.Region.GetAPIReader().Get(ctx, key, c)
	}
	switch {
	case apierrors.IsNotFound(err):
		return false, nil
	case err != nil:
		return false, fmt.Errorf("reading the region cluster of add-on %s/%s: %w", a.Namespace, a.Name, err)
	case !c.DeletionTimestamp.IsZero():
		return false, nil
	}
	return slices.ContainsFunc(a.OwnerReferences, func(o metav1.OwnerReference) bool { return o.UID == c.UID }), nil
}

// copy creates or updates the cell's copy, with the region generation it
// copies. Owner references and finalizers stay behind: they are the region's.
func (m *Mirror) copy(ctx context.Context, reg *v1alpha1.Addon) (*v1alpha1.Addon, error) {
	if err := ensureNamespace(ctx, m.Cell, reg.Namespace); err != nil {
		return nil, err
	}
	a := &v1alpha1.Addon{ObjectMeta: metav1.ObjectMeta{Namespace: reg.Namespace, Name: reg.Name}}
	_, err := controllerutil.CreateOrPatch(ctx, m.Cell, a, func() error {
		if !a.DeletionTimestamp.IsZero() {
			return nil // a copy being removed keeps the spec it is removed with
		}
		a.Labels = reg.Labels
		if a.Annotations == nil {
			a.Annotations = map[string]string{}
		}
		a.Annotations[v1alpha1.AnnotationRegionGeneration] = strconv.FormatInt(reg.Generation, 10)
		a.Spec = reg.Spec
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("copying add-on %s/%s into the cell: %w", reg.Namespace, reg.Name, err)
	}
	return a, nil
}

// pushStatus writes the cell's status of an add-on to the region's copy.
func (m *Mirror) pushStatus(ctx context.Context, reg, cp *v1alpha1.Addon) error {
	if reflect.DeepEqual(reg.Status, cp.Status) || cp.Status.ObservedGeneration > reg.Generation {
		return nil
	}
	reg = reg.DeepCopy()
	reg.Status = cp.Status
	if err := m.Region.GetClient().Status().Update(ctx, reg); err != nil {
		return fmt.Errorf("reporting add-on %s/%s to the region: %w", reg.Namespace, reg.Name, err)
	}
	return nil
}

// release handles a region add-on being deleted: its copy goes with the
// spec it was deleted with (Preserve), and once the copy is gone the region
// add-on's finalizer goes too.
func (m *Mirror) release(ctx context.Context, reg *v1alpha1.Addon) error {
	cp := &v1alpha1.Addon{}
	err := m.Cell.Get(ctx, client.ObjectKeyFromObject(reg), cp)
	if apierrors.IsNotFound(err) {
		return m.dropRegion(ctx, reg)
	}
	if err != nil {
		return fmt.Errorf("reading the cell's add-on %s/%s: %w", reg.Namespace, reg.Name, err)
	}
	if cp.DeletionTimestamp.IsZero() {
		if cp.Spec.Preserve != reg.Spec.Preserve {
			cp.Spec.Preserve = reg.Spec.Preserve
			if err := m.Cell.Update(ctx, cp); err != nil {
				return fmt.Errorf("copying add-on %s/%s's preserve: %w", reg.Namespace, reg.Name, err)
			}
		}
		return m.deleteCopy(ctx, client.ObjectKeyFromObject(reg))
	}
	return nil // the copy's deletion event brings the add-on back here
}

// dropRegion deletes a region add-on and removes its finalizer.
func (m *Mirror) dropRegion(ctx context.Context, reg *v1alpha1.Addon) error {
	if reg.DeletionTimestamp.IsZero() {
		if err := m.Region.GetClient().Delete(ctx, reg); client.IgnoreNotFound(err) != nil {
			return fmt.Errorf("deleting region add-on %s/%s: %w", reg.Namespace, reg.Name, err)
		}
	}
	if !controllerutil.ContainsFinalizer(reg, v1alpha1.AddonFinalizer) {
		return nil
	}
	// No optimistic lock: the delete above moved the resource version, and
	// the finalizer list holds only cellplane's, so the patch loses nothing.
	reg = reg.DeepCopy()
	patch := client.MergeFrom(reg.DeepCopy())
	controllerutil.RemoveFinalizer(reg, v1alpha1.AddonFinalizer)
	if err := m.Region.GetClient().Patch(ctx, reg, patch); client.IgnoreNotFound(err) != nil {
		return fmt.Errorf("releasing region add-on %s/%s: %w", reg.Namespace, reg.Name, err)
	}
	return nil
}

// deleteCopy deletes the cell's copy; the Reconciler's finalizer removes
// its objects first.
func (m *Mirror) deleteCopy(ctx context.Context, key client.ObjectKey) error {
	a := &v1alpha1.Addon{ObjectMeta: metav1.ObjectMeta{Namespace: key.Namespace, Name: key.Name}}
	if err := m.Cell.Delete(ctx, a); client.IgnoreNotFound(err) != nil {
		return fmt.Errorf("deleting add-on %s from the cell: %w", key, err)
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
