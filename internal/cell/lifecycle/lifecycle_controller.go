package lifecycle

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"time"

	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/manager"
	"sigs.k8s.io/controller-runtime/pkg/source"

	"github.com/cellplane/cellplane/api/v1alpha1"
	"github.com/cellplane/cellplane/internal/cell/bringup"
	"github.com/cellplane/cellplane/internal/cell/endpoint"
	"github.com/cellplane/cellplane/internal/cell/rollout"
	"github.com/cellplane/cellplane/internal/cell/tenant"
	"github.com/cellplane/cellplane/internal/cell/zones"
	"github.com/cellplane/cellplane/internal/components"
	"github.com/cellplane/cellplane/internal/controlplane"
	"github.com/cellplane/cellplane/internal/pki"
)

// Binaries hands out built components, building them on first use.
type Binaries interface {
	Kubernetes(ctx context.Context, r components.Release) (components.KubernetesBinaries, error)
	Etcd(ctx context.Context) (components.EtcdBinaries, error)
}

// Requeue intervals: poll quickly while a control plane comes up, slowly once it runs.
const (
	pollCreating = 200 * time.Millisecond
	pollActive   = 10 * time.Second
	// pollQueued is how often a queued bring-up looks at its place (and
	// the machine's load); the gate wakes the head of the queue at once
	// when a slot frees.
	pollQueued = time.Second
)

// DefaultCreateTimeout is how long a control plane may take to become healthy
// before its creation is declared FAILED.
const DefaultCreateTimeout = 5 * time.Minute

// Reconciler runs the control planes of one cell.
type Reconciler struct {
	Client   client.Client
	Layout   tenant.Layout
	Endpoint *endpoint.Writer
	Runner   tenant.Runner
	Binaries Binaries
	Logger   *slog.Logger
	// CreateTimeout defaults to DefaultCreateTimeout.
	CreateTimeout time.Duration
	// Exits delivers the clusters whose processes died, so they are looked
	// at once rather than at the next poll.
	Exits <-chan event.GenericEvent
	// Concerns take part in every pass, in order, after the configs and
	// before the endpoint and processes: restores, member replacement.
	Concerns []tenant.Concern
	// Zones says which zones are out of the cell; nil shifts none. Evacuator,
	// when set, moves ready clusters out of a zone the moment it goes.
	Zones     *zones.Shifts
	Evacuator *zones.Evacuator
	// Released is told a deleted cluster's UID once its processes are gone,
	// so what the cell holds for it (its etcd connection) goes too.
	Released func(uid string)
	// Certs is how long leaf certificates live and when they renew; zero
	// means pki's defaults (a year, renewed 30 days before).
	Certs pki.Renewal
	// KubeconfigCertLifetime is the life of the admin certificate in the
	// published kubeconfig; zero means DefaultKubeconfigCertLifetime.
	KubeconfigCertLifetime time.Duration
	// Rollouts moves running control planes to another release.
	Rollouts rollout.Stepper
	// Etcd reaches a cluster's etcd, for a rollback's check of the stored
	// objects; nil refuses rollbacks that need the check.
	Etcd func(*controlplane.Plan) (rollout.Values, error)
	// BringUps admits new control planes a few at a time; nil starts every
	// one at once.
	BringUps *bringup.Gate

	started  time.Time
	slots    slotAllocator
	probers  probers
	secrets  kubeconfigs
	renewals sync.Map // cluster UID → time.Time the next leaf is due
}

// SetupWithManager registers the controller.
func (r *Reconciler) SetupWithManager(mgr ctrl.Manager) error {
	r.started = time.Now()
	if r.CreateTimeout == 0 {
		r.CreateTimeout = DefaultCreateTimeout
	}
	r.slots.client, r.secrets.client = r.Client, r.Client
	r.secrets.lifetime = r.KubeconfigCertLifetime
	b := ctrl.NewControllerManagedBy(mgr).
		For(&v1alpha1.Cluster{}).
		WithOptions(controller.Options{MaxConcurrentReconciles: 8})
	if r.Exits != nil {
		b = b.WatchesRawSource(source.Channel(r.Exits, &handler.EnqueueRequestForObject{}))
	}
	if r.BringUps != nil {
		b = b.WatchesRawSource(source.Channel(r.BringUps.Wakes(), &handler.EnqueueRequestForObject{}))
	}
	if r.Zones != nil {
		wake := make(chan event.GenericEvent)
		b = b.WatchesRawSource(source.Channel(wake, &handler.EnqueueRequestForObject{}))
		var first func(context.Context, []v1alpha1.Cluster)
		if r.Evacuator != nil {
			first = r.Evacuator.Evacuate
		}
		if err := mgr.Add(manager.RunnableFunc(func(ctx context.Context) error {
			return zones.WakeOnChange(ctx, r.Client, r.Zones, r.Logger, wake, first)
		})); err != nil {
			return err
		}
	}
	return b.Complete(r)
}

// Reconcile follows the fixed order: fetch, deletion, finalizer, phases, status.
func (r *Reconciler) Reconcile(ctx context.Context, req ctrl.Request) (res ctrl.Result, err error) {
	c := &v1alpha1.Cluster{}
	if err := r.Client.Get(ctx, req.NamespacedName, c); err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	orig := c.DeepCopy()
	log := tenant.Logger(r.Logger, c)
	defer func() {
		if perr := r.patchStatus(ctx, orig, c); perr != nil && err == nil {
			err = perr
		}
	}()
	if !c.DeletionTimestamp.IsZero() {
		return r.reconcileDelete(ctx, log, c)
	}
	if controllerutil.AddFinalizer(c, v1alpha1.CellFinalizer) {
		if err := r.Client.Update(ctx, c); err != nil {
			return ctrl.Result{}, fmt.Errorf("adding finalizer: %w", err)
		}
		orig.ResourceVersion = c.ResourceVersion
	}
	// persist writes the status now, for a step that must be on record before
	// it is taken (a rollout's); the deferred patch then starts from it.
	persist := func(ctx context.Context) error {
		if err := r.patchStatus(ctx, orig, c); err != nil {
			return err
		}
		orig = c.DeepCopy()
		return nil
	}
	return r.reconcileNormal(ctx, log, c, persist)
}

func (r *Reconciler) patchStatus(ctx context.Context, orig, c *v1alpha1.Cluster) error {
	if equality.Semantic.DeepEqual(orig.Status, c.Status) {
		return nil
	}
	err := r.Client.Status().Patch(ctx, c, client.MergeFrom(orig))
	if apierrors.IsNotFound(err) {
		return nil // deleted while we worked: nothing left to report on
	}
	if err != nil {
		return fmt.Errorf("patching status: %w", err)
	}
	return nil
}

func (r *Reconciler) reconcileDelete(ctx context.Context, log *slog.Logger, c *v1alpha1.Cluster) (ctrl.Result, error) {
	c.Status.Status = v1alpha1.StatusDeleting
	if c.Status.Slot != nil {
		if err := r.teardown(ctx, c, r.Layout.Addresses(c)); err != nil {
			return ctrl.Result{}, err
		}
	}
	if err := os.RemoveAll(r.Layout.ClusterDir(c)); err != nil {
		return ctrl.Result{}, fmt.Errorf("removing cluster files: %w", err)
	}
	r.slots.release(c)
	r.BringUps.Done(c.UID)
	if controllerutil.RemoveFinalizer(c, v1alpha1.CellFinalizer) {
		if err := r.Client.Update(ctx, c); err != nil {
			return ctrl.Result{}, fmt.Errorf("removing finalizer: %w", err)
		}
	}
	log.Info("cluster deleted")
	return ctrl.Result{}, nil
}

// deleteStopTimeout is the grace a member gets when its cluster is deleted: the
// endpoint is already gone and its data is about to be, so there is nothing to
// drain and nothing to flush.
const deleteStopTimeout = 2 * time.Second

// teardown removes the endpoint first, so tenants see the cluster go away
// cleanly, then stops the members tier by tier in the reverse of start order
// (controllers, API servers, etcd); the members of one tier stop together.
func (r *Reconciler) teardown(ctx context.Context, c *v1alpha1.Cluster, p *controlplane.Plan) error {
	if err := r.Endpoint.Remove(p); err != nil {
		return err
	}
	for _, tier := range p.Tiers() {
		if err := tenant.StopMembers(ctx, r.Runner, p, tier, deleteStopTimeout, ""); err != nil {
			return err
		}
	}
	if err := removeCgroup(ctx, p); err != nil {
		return err
	}
	r.probers.close(c.UID)
	r.renewals.Delete(c.UID)
	if r.Released != nil {
		r.Released(string(c.UID))
	}
	return r.secrets.delete(ctx, c)
}
