package cell

import (
	"context"
	"fmt"
	"log/slog"
	"path/filepath"
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
	"github.com/cellplane/cellplane/internal/components"
	"github.com/cellplane/cellplane/internal/ipam"
	"github.com/cellplane/cellplane/internal/runtime/process"
)

// Runner runs control-plane processes; the process runtime implements it.
type Runner interface {
	Ensure(ctx context.Context, s process.Spec) (process.Status, error)
	Stop(ctx context.Context, s process.Spec) error
	Status(id string) (process.Status, bool)
}

// Binaries hands out built components, building them on first use.
type Binaries interface {
	Kubernetes(ctx context.Context, r components.Release) (components.KubernetesBinaries, error)
	Etcd(ctx context.Context) (components.EtcdBinaries, error)
}

// Requeue intervals: poll quickly while a control plane comes up, slowly once it runs.
const (
	pollCreating = 200 * time.Millisecond
	pollActive   = 10 * time.Second
)

// DefaultGoawayChance is the --goaway-chance Kubernetes recommends starting
// from: one HTTP/2 request in a thousand ends its connection gracefully, so a
// busy client moves to another API server within seconds to minutes, and a
// restarted server gets its share of connections back. The maximum is 0.02.
const DefaultGoawayChance = 0.001

// DefaultCreateTimeout is how long a control plane may take to become healthy
// before its creation is declared FAILED.
const DefaultCreateTimeout = 5 * time.Minute

// ClusterReconciler runs the control planes of one cell.
type ClusterReconciler struct {
	Client   client.Client
	CellName string
	Cell     ipam.Cell
	Dir      string // the cell's directory; clusters live in Dir/clusters
	LBDir    string // the load balancer's endpoint directory
	Runner   Runner
	Binaries Binaries
	Logger   *slog.Logger
	// CreateTimeout defaults to DefaultCreateTimeout.
	CreateTimeout time.Duration
	// Exits delivers the IDs of processes that died, so their cluster is looked at
	// at once rather than at the next poll.
	Exits <-chan event.GenericEvent
	// Restore is where clusters created with spec.restoreFrom find their
	// source's backups; nil fails such clusters.
	Restore *RestoreStorage
	// ReplayDialer connects a restore's replay to etcd; nil dials it for real.
	ReplayDialer ReplayDialer
	// MembershipDialer connects member replacement to etcd; nil dials it for real.
	MembershipDialer MembershipDialer
	// Zones says which zones are shifted out of the cell; nil shifts none.
	Zones *ZoneShifts
	// GoawayChance is every API server's --goaway-chance; zero leaves it off.
	// The cell passes DefaultGoawayChance unless told otherwise.
	GoawayChance float64
	// ZoneNetNS maps a zone to the network namespace its members run in
	// (cellplane up --zone-namespaces); nil runs every member in ours.
	ZoneNetNS map[string]string

	started time.Time
	slots   slotAllocator
	probers sync.Map // cluster UID → *controlplane.Prober
	// endpointLocks serialise writes of a cluster's endpoint file between its
	// pass and an evacuation: cluster UID → *sync.Mutex.
	endpointLocks sync.Map
}

// SetupWithManager registers the controller.
func (r *ClusterReconciler) SetupWithManager(mgr ctrl.Manager) error {
	r.started = time.Now()
	if r.CreateTimeout == 0 {
		r.CreateTimeout = DefaultCreateTimeout
	}
	r.slots.client = r.Client
	b := ctrl.NewControllerManagedBy(mgr).
		For(&v1alpha1.Cluster{}).
		WithOptions(controller.Options{MaxConcurrentReconciles: 8})
	if r.Exits != nil {
		b = b.WatchesRawSource(source.Channel(r.Exits, &handler.EnqueueRequestForObject{}))
	}
	if r.Zones != nil {
		wake := make(chan event.GenericEvent)
		b = b.WatchesRawSource(source.Channel(wake, &handler.EnqueueRequestForObject{}))
		if err := mgr.Add(manager.RunnableFunc(func(ctx context.Context) error { return r.wakeOnShift(ctx, wake) })); err != nil {
			return err
		}
	}
	return b.Complete(r)
}

// wakeOnShift looks at every cluster as soon as the zone shifts change, so an
// evacuation starts at once rather than at each cluster's next poll.
func (r *ClusterReconciler) wakeOnShift(ctx context.Context, wake chan<- event.GenericEvent) error {
	return wakeOnZoneChange(ctx, r.Client, r.Zones, r.Logger, wake, r.evacuateNow)
}

// wakeOnZoneChange sends every cluster to wake whenever the zones out of
// rotation change, after handing them to first (when set). The cluster
// controller and etcd care each run one.
func wakeOnZoneChange(ctx context.Context, c client.Reader, zones *ZoneShifts, log *slog.Logger, wake chan<- event.GenericEvent,
	first func(context.Context, []v1alpha1.Cluster)) error {
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-zones.Changed():
		}
		var list v1alpha1.ClusterList
		if err := c.List(ctx, &list); err != nil {
			log.Warn("listing clusters after a zone shift", "err", err)
			continue
		}
		if first != nil {
			first(ctx, list.Items)
		}
		for i := range list.Items {
			select {
			case wake <- event.GenericEvent{Object: &list.Items[i]}:
			case <-ctx.Done():
				return nil
			}
		}
	}
}

// Reconcile follows the fixed order: fetch, deletion, finalizer, phases, status.
func (r *ClusterReconciler) Reconcile(ctx context.Context, req ctrl.Request) (res ctrl.Result, err error) {
	c := &v1alpha1.Cluster{}
	if err := r.Client.Get(ctx, req.NamespacedName, c); err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	orig := c.DeepCopy()
	log := r.Logger.With("cluster", c.Spec.Name, "namespace", c.Namespace)
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
	return r.reconcileNormal(ctx, log, c)
}

func (r *ClusterReconciler) patchStatus(ctx context.Context, orig, c *v1alpha1.Cluster) error {
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

// clusterDir is where one cluster's certificates, configs, data and logs live.
func (r *ClusterReconciler) clusterDir(c *v1alpha1.Cluster) string { return clusterDir(r.Dir, c) }

func clusterDir(cellDir string, c *v1alpha1.Cluster) string {
	return filepath.Join(cellDir, "clusters", c.Namespace, c.Name)
}
