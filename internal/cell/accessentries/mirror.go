package accessentries

import (
	"context"
	"fmt"
	"slices"

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

// Mirror copies the region's access entries of this cell's clusters into
// the cell's store, under the same namespace and name.
type Mirror struct {
	Region   cluster.Cluster // the region's store, cached
	Cell     client.Client   // the cell's store
	CellName string
}

// SetupWithManager registers the mirror on the cell's manager. It watches
// both copies: a region entry changing, and a cell copy changed or left
// behind (found on start), each bring the two together. It watches the
// region's clusters too, since an entry is copied only while its cluster
// lives: the two informers deliver in no particular order, so an entry seen
// before its new cluster is copied when the cluster shows.
func (m *Mirror) SetupWithManager(mgr ctrl.Manager) error {
	mine := predicate.NewTypedPredicateFuncs(func(e *v1alpha1.AccessEntry) bool {
		return e.Labels[v1alpha1.LabelCell] == m.CellName
	})
	myClusters := predicate.NewTypedPredicateFuncs(func(c *v1alpha1.Cluster) bool { return c.Spec.Cell == m.CellName })
	return ctrl.NewControllerManagedBy(mgr).
		Named("accessentries").
		WatchesRawSource(source.Kind(m.Region.GetCache(), &v1alpha1.AccessEntry{},
			&handler.TypedEnqueueRequestForObject[*v1alpha1.AccessEntry]{}, mine)).
		WatchesRawSource(source.Kind(m.Region.GetCache(), &v1alpha1.Cluster{},
			handler.TypedEnqueueRequestsFromMapFunc(m.entriesOf), myClusters)).
		Watches(&v1alpha1.AccessEntry{}, &handler.EnqueueRequestForObject{}).
		Complete(m)
}

// entriesOf names the region's entries of a cluster.
func (m *Mirror) entriesOf(ctx context.Context, c *v1alpha1.Cluster) []ctrl.Request {
	var l v1alpha1.AccessEntryList
	err := m.Region.GetClient().List(ctx, &l, client.InNamespace(c.Namespace), client.MatchingLabels{v1alpha1.LabelCluster: c.Name})
	if err != nil {
		// A cache read fails only while the cache stops; the entries' own
		// events and the next cluster event bring them back.
		return nil
	}
	reqs := make([]ctrl.Request, 0, len(l.Items))
	for _, e := range l.Items {
		reqs = append(reqs, ctrl.Request{NamespacedName: client.ObjectKeyFromObject(&e)})
	}
	return reqs
}

// Reconcile brings one entry's two copies together.
func (m *Mirror) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	reg := &v1alpha1.AccessEntry{}
	err := m.Region.GetClient().Get(ctx, req.NamespacedName, reg)
	switch {
	case apierrors.IsNotFound(err):
		return ctrl.Result{}, m.deleteCopy(ctx, req.NamespacedName)
	case err != nil:
		return ctrl.Result{}, fmt.Errorf("reading region access entry: %w", err)
	case reg.Labels[v1alpha1.LabelCell] != m.CellName || !reg.DeletionTimestamp.IsZero():
		return ctrl.Result{}, m.deleteCopy(ctx, req.NamespacedName)
	}
	live, err := m.ofLiveCluster(ctx, reg)
	if err != nil {
		return ctrl.Result{}, err
	}
	if !live {
		return ctrl.Result{}, m.deleteCopy(ctx, req.NamespacedName)
	}
	return ctrl.Result{}, m.copy(ctx, reg)
}

// ofLiveCluster reports whether the entry belongs to the cluster of its name
// that exists now and is not being deleted. An entry created while its cluster
// was being released, or left by an earlier cluster of the same name, must not
// let anyone into a cluster created later under that name.
func (m *Mirror) ofLiveCluster(ctx context.Context, e *v1alpha1.AccessEntry) (bool, error) {
	c := &v1alpha1.Cluster{}
	err := m.Region.GetClient().Get(ctx, client.ObjectKey{Namespace: e.Namespace, Name: e.Labels[v1alpha1.LabelCluster]}, c)
	switch {
	case apierrors.IsNotFound(err):
		return false, nil
	case err != nil:
		return false, fmt.Errorf("reading the region cluster of access entry %s/%s: %w", e.Namespace, e.Name, err)
	case !c.DeletionTimestamp.IsZero():
		return false, nil
	}
	return slices.ContainsFunc(e.OwnerReferences, func(o metav1.OwnerReference) bool { return o.UID == c.UID }), nil
}

// copy creates or updates the cell's copy. Owner references stay behind:
// they name the region's cluster object, which the cell's store does not hold.
func (m *Mirror) copy(ctx context.Context, reg *v1alpha1.AccessEntry) error {
	if err := ensureNamespace(ctx, m.Cell, reg.Namespace); err != nil {
		return err
	}
	e := &v1alpha1.AccessEntry{ObjectMeta: metav1.ObjectMeta{Namespace: reg.Namespace, Name: reg.Name}}
	_, err := controllerutil.CreateOrPatch(ctx, m.Cell, e, func() error {
		e.Labels = reg.Labels
		e.Spec = reg.Spec
		return nil
	})
	if err != nil {
		return fmt.Errorf("copying access entry %s/%s into the cell: %w", reg.Namespace, reg.Name, err)
	}
	return nil
}

// deleteCopy removes the cell's copy of an entry the region no longer has
// for this cell.
func (m *Mirror) deleteCopy(ctx context.Context, key client.ObjectKey) error {
	e := &v1alpha1.AccessEntry{ObjectMeta: metav1.ObjectMeta{Namespace: key.Namespace, Name: key.Name}}
	if err := m.Cell.Delete(ctx, e); client.IgnoreNotFound(err) != nil {
		return fmt.Errorf("deleting access entry %s from the cell: %w", key, err)
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
