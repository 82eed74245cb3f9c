package addons

import (
	"context"
	"fmt"
	"log/slog"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/dynamic"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"

	"github.com/cellplane/cellplane/api/v1alpha1"
	"github.com/cellplane/cellplane/internal/addoncatalog"
	"github.com/cellplane/cellplane/internal/clusterversions"
	"github.com/cellplane/cellplane/internal/eks"
)

// finalizer holds the cell's copy of an add-on until its objects are gone
// from the tenant cluster (or left there, with Preserve).
const finalizer = "cellplane.io/addon-objects"

// Resync is how often an add-on's health is read again: the tenant's
// workloads change without the cell hearing of it.
const Resync = 15 * time.Second

// Reapply is how often an add-on applied cleanly is applied again, to bring
// back objects someone deleted or fields taken under OVERWRITE. A new spec
// is applied at once; applying every add-on of every cluster at each Resync
// would cost the tenants' API servers more than the health reads.
const Reapply = 5 * time.Minute

// Reconciler applies the cell's add-ons into their tenant clusters.
type Reconciler struct {
	Client  client.Client // the cell's store
	Tenants *Tenants
	Logger  *slog.Logger

	mu      sync.Mutex
	applied map[types.NamespacedName]applied // lost on restart, which applies again
}

// applied is when the cell last applied which generation of an add-on.
type applied struct {
	generation int64
	at         time.Time
}

// SetupWithManager registers the reconciler on the cell's manager.
func (r *Reconciler) SetupWithManager(mgr ctrl.Manager) error {
	return ctrl.NewControllerManagedBy(mgr).Named("addons").For(&v1alpha1.Addon{}).Complete(r)
}

// Reconcile applies or removes one add-on: fetch, deletion, finalizer,
// apply, health, status.
func (r *Reconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	a := &v1alpha1.Addon{}
	if err := r.Client.Get(ctx, req.NamespacedName, a); err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	c, err := r.cluster(ctx, a)
	if err != nil {
		return ctrl.Result{}, err
	}
	if !a.DeletionTimestamp.IsZero() {
		return ctrl.Result{}, r.remove(ctx, c, a)
	}
	if controllerutil.AddFinalizer(a, finalizer) {
		if err := r.Client.Update(ctx, a); err != nil {
			return ctrl.Result{}, fmt.Errorf("holding add-on %s: %w", a.Name, err)
		}
	}
	if c == nil || !c.DeletionTimestamp.IsZero() {
		return ctrl.Result{}, nil // the mirror drops the add-on with its cluster
	}
	dyn, err := r.Tenants.For(ctx, c)
	if err != nil {
		r.Logger.Debug("add-on waits for its cluster", "cluster", c.Spec.Name, "addon", a.Spec.AddonName, "err", err)
		return ctrl.Result{RequeueAfter: 5 * time.Second}, nil
	}
	st, err := r.apply(ctx, dyn, c, a)
	if err != nil {
		r.Logger.Info("applying add-on", "cluster", c.Spec.Name, "addon", a.Spec.AddonName, "err", err)
		return ctrl.Result{RequeueAfter: 5 * time.Second}, nil
	}
	return ctrl.Result{RequeueAfter: Resync}, r.setStatus(ctx, a, st)
}

// cluster is the cell's cluster of an add-on, nil when it is gone.
func (r *Reconciler) cluster(ctx context.Context, a *v1alpha1.Addon) (*v1alpha1.Cluster, error) {
	c := &v1alpha1.Cluster{}
	err := r.Client.Get(ctx, client.ObjectKey{Namespace: a.Namespace, Name: a.Labels[v1alpha1.LabelCluster]}, c)
	if apierrors.IsNotFound(err) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading the cluster of add-on %s: %w", a.Name, err)
	}
	return c, nil
}

// apply applies the add-on's objects and reads its health. An error is the
// tenant failing to answer; conflicts are a result.
func (r *Reconciler) apply(ctx context.Context, dyn dynamic.Interface, c *v1alpha1.Cluster, a *v1alpha1.Addon) (v1alpha1.AddonStatus, error) {
	st := a.Status
	if !r.due(a) {
		issues, err := Health(ctx, dyn, a.Spec.AddonName)
		if !apierrors.IsNotFound(err) {
			st.Issues = issues
			return st, err
		}
		// Someone deleted the workload: apply now, not at the next Reapply.
	}
	st.ObservedGeneration = regionGeneration(a)
	objs, err := render(c, a)
	if err != nil {
		st.Result, st.Issues = v1alpha1.AddonFailed, []v1alpha1.AddonIssue{{Code: eks.AddonIssueInternalFailure, Message: err.Error()}}
		return st, nil
	}
	conflicts, err := Apply(ctx, dyn, objs, a.Spec.ResolveConflicts)
	if err != nil {
		return st, err
	}
	if len(conflicts) > 0 {
		st.Result, st.Issues = v1alpha1.AddonFailed, conflictIssues(conflicts)
		return st, nil
	}
	issues, err := Health(ctx, dyn, a.Spec.AddonName)
	if err != nil {
		return st, err
	}
	st.Result, st.EverApplied, st.Issues = v1alpha1.AddonApplied, true, issues
	r.record(a)
	return st, nil
}

// due reports whether the add-on must be applied: its spec is new to the
// cell, its last apply failed or is Reapply old.
func (r *Reconciler) due(a *v1alpha1.Addon) bool {
	if a.Status.Result != v1alpha1.AddonApplied || a.Status.ObservedGeneration != regionGeneration(a) {
		return true
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	last, ok := r.applied[client.ObjectKeyFromObject(a)]
	return !ok || last.generation != a.Generation || time.Since(last.at) >= Reapply
}

func (r *Reconciler) record(a *v1alpha1.Addon) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.applied == nil {
		r.applied = map[types.NamespacedName]applied{}
	}
	r.applied[client.ObjectKeyFromObject(a)] = applied{generation: a.Generation, at: time.Now()}
}

// render renders an add-on for its cluster.
func render(c *v1alpha1.Cluster, a *v1alpha1.Addon) ([]*unstructured.Unstructured, error) {
	v, ok := addoncatalog.Lookup(a.Spec.AddonName, c.Spec.Version, a.Spec.AddonVersion)
	if !ok {
		if r, found := clusterversions.Lookup(c.Spec.Version); found {
			return nil, fmt.Errorf("add-on version %s is not offered for Kubernetes %s", a.Spec.AddonVersion, r.Minor)
		}
		return nil, fmt.Errorf("add-on version %s is not offered for Kubernetes %s", a.Spec.AddonVersion, c.Spec.Version)
	}
	cfg, err := addoncatalog.ParseConfig(a.Spec.AddonName, a.Spec.ConfigurationValues)
	if err != nil {
		return nil, err
	}
	return Render(Input{Addon: a.Spec.AddonName, Version: v, Config: cfg, APIServer: c.Status.Endpoint})
}

func conflictIssues(cs []Conflict) []v1alpha1.AddonIssue {
	var ids, fields []string
	for _, c := range cs {
		ids = append(ids, c.Object)
		fields = append(fields, c.Object+": "+strings.Join(c.Fields, ", "))
	}
	return []v1alpha1.AddonIssue{{
		Code: eks.AddonIssueConfigurationConflict,
		Message: "Conflicts found when trying to apply. Will not continue due to resolve conflicts mode. Conflicts: " +
			strings.Join(fields, "; "),
		ResourceIDs: ids,
	}}
}

// regionGeneration is the region generation the cell's copy holds.
func regionGeneration(a *v1alpha1.Addon) int64 {
	g, _ := strconv.ParseInt(a.Annotations[v1alpha1.AnnotationRegionGeneration], 10, 64)
	return g
}

func (r *Reconciler) setStatus(ctx context.Context, a *v1alpha1.Addon, st v1alpha1.AddonStatus) error {
	if reflect.DeepEqual(a.Status, st) {
		return nil
	}
	a.Status = st
	if err := r.Client.Status().Update(ctx, a); err != nil {
		return fmt.Errorf("recording status of add-on %s: %w", a.Name, err)
	}
	return nil
}

// remove deletes the add-on's objects from the tenant cluster, unless the
// add-on is preserved or its cluster is gone, and lets the copy go.
func (r *Reconciler) remove(ctx context.Context, c *v1alpha1.Cluster, a *v1alpha1.Addon) error {
	if !controllerutil.ContainsFinalizer(a, finalizer) {
		return nil
	}
	if !a.Spec.Preserve && c != nil && c.DeletionTimestamp.IsZero() {
		dyn, err := r.Tenants.For(ctx, c)
		if err != nil {
			return fmt.Errorf("reaching cluster %s to remove add-on %s: %w", c.Spec.Name, a.Spec.AddonName, err)
		}
		objs, err := render(c, a)
		if err != nil {
			return err
		}
		if err := Remove(ctx, dyn, objs); err != nil {
			return err
		}
	}
	r.mu.Lock()
	delete(r.applied, client.ObjectKeyFromObject(a))
	r.mu.Unlock()
	controllerutil.RemoveFinalizer(a, finalizer)
	if err := r.Client.Update(ctx, a); client.IgnoreNotFound(err) != nil {
		return fmt.Errorf("releasing add-on %s: %w", a.Name, err)
	}
	return nil
}

// kubeconfigOf reads the cluster's published admin kubeconfig.
func kubeconfigOf(ctx context.Context, cl client.Client, c *v1alpha1.Cluster) (*corev1.Secret, error) {
	s := &corev1.Secret{}
	key := client.ObjectKey{Namespace: c.Namespace, Name: v1alpha1.KubeconfigSecretName(c.Name)}
	if err := cl.Get(ctx, key, s); err != nil {
		return nil, fmt.Errorf("reading the kubeconfig of cluster %s: %w", c.Spec.Name, err)
	}
	return s, nil
}
