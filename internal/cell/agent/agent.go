package agent

import (
	"context"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/cluster"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/source"

	"github.com/cellplane/cellplane/api/v1alpha1"
)

// Agent mirrors the clusters the region placed on this cell into the cell's store
// and reports their status and kubeconfig back. The cell's controllers read only
// their own store, so they keep healing clusters while the region is unreachable.
type Agent struct {
	Region   cluster.Cluster // the region's store, cached
	Cell     client.Client   // the cell's store
	CellName string
}

// SetupWithManager registers the agent on the cell's manager.
func (a *Agent) SetupWithManager(mgr ctrl.Manager) error {
	mine := predicate.NewTypedPredicateFuncs(func(c *v1alpha1.Cluster) bool { return c.Spec.Cell == a.CellName })
	return ctrl.NewControllerManagedBy(mgr).
		Named("agent").
		WithOptions(controller.Options{MaxConcurrentReconciles: 4}).
		WatchesRawSource(source.Kind(a.Region.GetCache(), &v1alpha1.Cluster{},
			&handler.TypedEnqueueRequestForObject[*v1alpha1.Cluster]{}, mine)).
		Watches(&v1alpha1.Cluster{}, &handler.EnqueueRequestForObject{}).
		Watches(&corev1.Secret{}, handler.EnqueueRequestsFromMapFunc(kubeconfigOwner)).
		Complete(a)
}

func kubeconfigOwner(_ context.Context, o client.Object) []ctrl.Request {
	name, ok := o.GetLabels()[v1alpha1.LabelKubeconfigFor]
	if !ok {
		return nil
	}
	return []ctrl.Request{{NamespacedName: types.NamespacedName{Namespace: o.GetNamespace(), Name: name}}}
}

// Reconcile brings one cluster's two copies together.
func (a *Agent) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	reg := &v1alpha1.Cluster{}
	err := a.Region.GetClient().Get(ctx, req.NamespacedName, reg)
	if apierrors.IsNotFound(err) {
		return ctrl.Result{}, a.deleteCellCopy(ctx, req.NamespacedName)
	}
	if err != nil {
		return ctrl.Result{}, fmt.Errorf("reading region cluster: %w", err)
	}
	if reg.Spec.Cell != a.CellName {
		return ctrl.Result{}, nil
	}
	if !reg.DeletionTimestamp.IsZero() {
		return a.release(ctx, reg)
	}
	if err := a.pullPlatformVersion(ctx, reg.Spec.PlatformVersion); err != nil {
		return ctrl.Result{}, err
	}
	cellObj, err := a.pullSpec(ctx, reg)
	if err != nil {
		return ctrl.Result{}, err
	}
	// The kubeconfig goes first: a client that sees ACTIVE asks for it next.
	if err := a.pushKubeconfig(ctx, reg); err != nil {
		return ctrl.Result{}, err
	}
	return ctrl.Result{}, a.pushStatus(ctx, reg, cellObj)
}

// pullSpec creates or updates the cell's copy of the cluster.
func (a *Agent) pullSpec(ctx context.Context, reg *v1alpha1.Cluster) (*v1alpha1.Cluster, error) {
	if err := ensureNamespace(ctx, a.Cell, reg.Namespace); err != nil {
		return nil, err
	}
	c := &v1alpha1.Cluster{ObjectMeta: metav1.ObjectMeta{Namespace: reg.Namespace, Name: reg.Name}}
	_, err := controllerutil.CreateOrPatch(ctx, a.Cell, c, func() error {
		c.Labels = reg.Labels
		c.Spec = reg.Spec
		copyAnnotation(c, reg, v1alpha1.AnnotationBackupRequested)
		copyAnnotation(c, reg, v1alpha1.AnnotationRestoreRequested)
		copyAnnotation(c, reg, v1alpha1.AnnotationKeyRotationRequested)
		copyAnnotation(c, reg, v1alpha1.AnnotationInsightsRefreshRequested)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("copying cluster into cell: %w", err)
	}
	return c, nil
}

// copyAnnotation copies one annotation from the region's copy, removing it when
// the region has none. Only the annotations the cell acts on are copied.
func copyAnnotation(dst, src *v1alpha1.Cluster, key string) {
	v, ok := src.Annotations[key]
	switch {
	case ok:
		if dst.Annotations == nil {
			dst.Annotations = map[string]string{}
		}
		dst.Annotations[key] = v
	case dst.Annotations != nil:
		delete(dst.Annotations, key)
	}
}

func (a *Agent) pushStatus(ctx context.Context, reg, cellObj *v1alpha1.Cluster) error {
	if equality.Semantic.DeepEqual(reg.Status, cellObj.Status) {
		return nil
	}
	orig := reg.DeepCopy()
	reg.Status = cellObj.Status
	if err := a.Region.GetClient().Status().Patch(ctx, reg, client.MergeFrom(orig)); err != nil {
		return fmt.Errorf("reporting status to region: %w", err)
	}
	return nil
}

func (a *Agent) pushKubeconfig(ctx context.Context, reg *v1alpha1.Cluster) error {
	key := types.NamespacedName{Namespace: reg.Namespace, Name: v1alpha1.KubeconfigSecretName(reg.Name)}
	src := &corev1.Secret{}
	if err := a.Cell.Get(ctx, key, src); err != nil {
		return client.IgnoreNotFound(err)
	}
	dst := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: key.Namespace, Name: key.Name}}
	_, err := controllerutil.CreateOrPatch(ctx, a.Region.GetClient(), dst, func() error {
		dst.Labels, dst.Type, dst.Data = src.Labels, src.Type, src.Data
		return nil
	})
	if err != nil {
		return fmt.Errorf("publishing kubeconfig to region: %w", err)
	}
	return nil
}

// release deletes the cell's copy and, once the cell has torn the control plane
// down, lets the region's object go.
func (a *Agent) release(ctx context.Context, reg *v1alpha1.Cluster) (ctrl.Result, error) {
	cellObj := &v1alpha1.Cluster{}
	err := a.Cell.Get(ctx, client.ObjectKeyFromObject(reg), cellObj)
	if err == nil {
		if err := a.pushStatus(ctx, reg, cellObj); err != nil {
			return ctrl.Result{}, err
		}
		if cellObj.DeletionTimestamp.IsZero() {
			if err := a.Cell.Delete(ctx, cellObj); client.IgnoreNotFound(err) != nil {
				return ctrl.Result{}, fmt.Errorf("deleting cell copy: %w", err)
			}
		}
		return ctrl.Result{RequeueAfter: time.Second}, nil
	}
	if !apierrors.IsNotFound(err) {
		return ctrl.Result{}, fmt.Errorf("reading cell copy: %w", err)
	}
	if err := a.deleteRegionKubeconfig(ctx, reg); err != nil {
		return ctrl.Result{}, err
	}
	if err := a.deleteUpdates(ctx, reg); err != nil {
		return ctrl.Result{}, err
	}
	if err := a.deleteAccessEntries(ctx, reg); err != nil {
		return ctrl.Result{}, err
	}
	if controllerutil.RemoveFinalizer(reg, v1alpha1.RegionFinalizer) {
		if err := a.Region.GetClient().Update(ctx, reg); err != nil {
			return ctrl.Result{}, fmt.Errorf("releasing region cluster: %w", err)
		}
	}
	return ctrl.Result{}, nil
}

func (a *Agent) deleteRegionKubeconfig(ctx context.Context, reg *v1alpha1.Cluster) error {
	s := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: reg.Namespace, Name: v1alpha1.KubeconfigSecretName(reg.Name)}}
	if err := a.Region.GetClient().Delete(ctx, s); client.IgnoreNotFound(err) != nil {
		return fmt.Errorf("deleting region kubeconfig: %w", err)
	}
	return nil
}

// deleteUpdates removes the cluster's update records: the region's store runs no
// garbage collector, so owner references alone would leave them behind.
func (a *Agent) deleteUpdates(ctx context.Context, reg *v1alpha1.Cluster) error {
	err := a.Region.GetClient().DeleteAllOf(ctx, &v1alpha1.ClusterUpdate{},
		client.InNamespace(reg.Namespace), client.MatchingLabels{v1alpha1.LabelCluster: reg.Name})
	if err != nil {
		return fmt.Errorf("deleting update records: %w", err)
	}
	return nil
}

// deleteAccessEntries removes the cluster's access entries, for the same
// reason as deleteUpdates; the cell's mirror of them follows.
func (a *Agent) deleteAccessEntries(ctx context.Context, reg *v1alpha1.Cluster) error {
	err := a.Region.GetClient().DeleteAllOf(ctx, &v1alpha1.AccessEntry{},
		client.InNamespace(reg.Namespace), client.MatchingLabels{v1alpha1.LabelCluster: reg.Name})
	if err != nil {
		return fmt.Errorf("deleting access entries: %w", err)
	}
	return nil
}

// deleteCellCopy handles a region object that vanished without going through its
// finalizer (removed by hand): the cell must not keep running an orphan.
func (a *Agent) deleteCellCopy(ctx context.Context, key types.NamespacedName) error {
	c := &v1alpha1.Cluster{ObjectMeta: metav1.ObjectMeta{Namespace: key.Namespace, Name: key.Name}}
	if err := a.Cell.Delete(ctx, c); client.IgnoreNotFound(err) != nil {
		return fmt.Errorf("deleting orphaned cell copy: %w", err)
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
