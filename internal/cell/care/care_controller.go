package care

import (
	"cmp"
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/manager"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/source"

	"github.com/cellplane/cellplane/api/v1alpha1"
	"github.com/cellplane/cellplane/internal/cell/tenant"
	"github.com/cellplane/cellplane/internal/cell/zones"
	"github.com/cellplane/cellplane/internal/controlplane"
	"github.com/cellplane/cellplane/internal/etcdcare"
)

// Etcd care defaults.
const (
	// DefaultInterval is how often each ACTIVE cluster's etcd is measured.
	DefaultInterval = 5 * time.Second
	// DefaultOverQuotaBackoff is how long etcd care waits before trying NOSPACE
	// recovery again when live data alone fills the quota: recovering again
	// cannot help until someone deletes data, and each attempt defragments every
	// member.
	DefaultOverQuotaBackoff = time.Minute
	// statusRefresh is how old status.etcd may grow while nothing in it changes;
	// between refreshes an unchanged measurement is not written, so a quiet
	// cluster costs its store no write every interval.
	statusRefresh = 30 * time.Second
)

// Bounds of the steps of one pass. Defragmentation and NOSPACE recovery are
// bounded by the policy's own per-member timeouts; this is the backstop.
const (
	measureTimeout = 15 * time.Second
	compactTimeout = 30 * time.Second
	repairTimeout  = 15 * time.Minute
)

// Etcd is one cluster's etcd as etcd care uses it: the etcdcare operations
// bound to a client of that cluster. The cell's etcdconn.Conn implements it;
// unit tests fake it.
type Etcd interface {
	Status(ctx context.Context) (etcdcare.Cluster, error)
	CompactIfBehind(ctx context.Context, pol etcdcare.CompactionPolicy, log *slog.Logger) (etcdcare.CompactionReport, error)
	Defragment(ctx context.Context, pol etcdcare.Policy, log *slog.Logger) (etcdcare.Report, error)
	RecoverNoSpace(ctx context.Context, pol etcdcare.Policy, log *slog.Logger) (etcdcare.NoSpaceReport, error)
	MoveLeader(ctx context.Context, c etcdcare.Cluster, to uint64) error
}

// Dialer returns the etcd of the control plane p describes.
type Dialer func(p *controlplane.Plan) (Etcd, error)

// Reconciler keeps the etcd of every ACTIVE cluster of one cell healthy: it
// measures it into status.etcd, compacts history an API server failed to
// compact, defragments members that need it without stalling the leader, and
// recovers from the NOSPACE alarm. It writes status.etcd only; the cluster
// lifecycle owns every other status field and the conditions.
type Reconciler struct {
	Client client.Client
	Layout tenant.Layout
	Logger *slog.Logger
	// Dial returns the cluster's etcd, shared with the rest of the cell.
	Dial Dialer
	// Defrag says when a member is due for defragmentation; zero fields take
	// etcdcare's defaults. Tests lower the thresholds.
	Defrag     etcdcare.Policy
	Compaction etcdcare.CompactionPolicy
	// Interval defaults to DefaultInterval, OverQuotaBackoff to
	// DefaultOverQuotaBackoff.
	Interval         time.Duration
	OverQuotaBackoff time.Duration
	// Now defaults to time.Now.
	Now func() time.Time
	// Zones says which zones are shifted out of the cell: etcd's leader is
	// moved out of them. Nil shifts none.
	Zones *zones.Shifts

	mu     sync.Mutex
	states map[types.NamespacedName]*state
}

// state is what etcd care keeps between passes over one cluster. Passes
// over one cluster never overlap (the work queue serializes a key), so only the
// map needs the lock.
type state struct {
	uid   types.UID
	ops   Etcd
	zones map[string]string // member name → zone
	// noSpaceRetryAt holds NOSPACE recovery back after live data was found over
	// the quota; overQuota is the message shown meanwhile.
	noSpaceRetryAt time.Time
	overQuota      string
	// lastDefrag and lastCompaction are the times this process last wrote.
	lastDefrag, lastCompaction *metav1.Time
}

// SetupWithManager registers the controller.
func (r *Reconciler) SetupWithManager(mgr ctrl.Manager) error {
	r.Interval = cmp.Or(r.Interval, DefaultInterval)
	r.OverQuotaBackoff = cmp.Or(r.OverQuotaBackoff, DefaultOverQuotaBackoff)
	if r.Now == nil {
		r.Now = time.Now
	}
	r.states = map[types.NamespacedName]*state{}
	b := ctrl.NewControllerManagedBy(mgr).
		Named("etcdcare").
		For(&v1alpha1.Cluster{}, builder.WithPredicates(lifecycleChanged)).
		WithOptions(controller.Options{MaxConcurrentReconciles: 8})
	if r.Zones != nil {
		// A zone going out moves etcd's leader at once, not at the next poll.
		wake := make(chan event.GenericEvent)
		b = b.WatchesRawSource(source.Channel(wake, &handler.EnqueueRequestForObject{}))
		if err := mgr.Add(manager.RunnableFunc(func(ctx context.Context) error {
			return zones.WakeOnChange(ctx, r.Client, r.Zones, r.Logger, wake, nil)
		})); err != nil {
			return err
		}
	}
	return b.Complete(r)
}

// lifecycleChanged lets through what starts or ends etcd care for a cluster: its
// status (ACTIVE), its deletion, or its spec. Without it every status.etcd write
// would trigger another pass at once.
var lifecycleChanged = predicate.Funcs{
	UpdateFunc: func(e event.UpdateEvent) bool {
		o, okOld := e.ObjectOld.(*v1alpha1.Cluster)
		n, okNew := e.ObjectNew.(*v1alpha1.Cluster)
		if !okOld || !okNew {
			return true
		}
		return o.Status.Status != n.Status.Status || o.Generation != n.Generation ||
			!n.DeletionTimestamp.IsZero()
	},
}

// Reconcile takes one pass over one cluster's etcd: fetch, let go of deleted or
// inactive clusters, measure and repair, then patch status.etcd alone.
func (r *Reconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	c := &v1alpha1.Cluster{}
	if err := r.Client.Get(ctx, req.NamespacedName, c); err != nil {
		if apierrors.IsNotFound(err) {
			r.forget(req.NamespacedName)
		}
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	if !c.DeletionTimestamp.IsZero() || c.Status.Status != v1alpha1.StatusActive || c.Status.Slot == nil {
		r.forget(req.NamespacedName)
		return ctrl.Result{}, nil
	}
	st, err := r.stateOf(req.NamespacedName, c)
	if err != nil {
		return ctrl.Result{}, err
	}
	next := r.care(ctx, tenant.Logger(r.Logger, c), c, st)
	if err := r.patchEtcdStatus(ctx, c, next); err != nil {
		return ctrl.Result{}, err
	}
	return ctrl.Result{RequeueAfter: r.Interval}, nil
}

// stateOf returns the cluster's state, connecting on first use and again when the
// name now belongs to a new cluster (a new UID is a new etcd cluster).
func (r *Reconciler) stateOf(key types.NamespacedName, c *v1alpha1.Cluster) (*state, error) {
	r.mu.Lock()
	st, ok := r.states[key]
	r.mu.Unlock()
	if ok && st.uid == c.UID {
		return st, nil
	}
	p := r.Layout.Addresses(c)
	ops, err := r.Dial(p)
	if err != nil {
		return nil, err
	}
	st = &state{uid: c.UID, ops: ops, zones: map[string]string{}}
	for _, m := range p.Members(controlplane.KindEtcd) {
		st.zones[m.Name()] = m.Zone
	}
	r.mu.Lock()
	r.states[key] = st
	r.mu.Unlock()
	return st, nil
}

// forget drops what care keeps about a cluster; the cluster's etcd
// connection belongs to the cell and stays open until the cluster goes.
func (r *Reconciler) forget(key types.NamespacedName) {
	r.mu.Lock()
	delete(r.states, key)
	r.mu.Unlock()
}

// cared reports how many clusters care keeps state for; for tests.
func (r *Reconciler) cared() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.states)
}

// patchEtcdStatus writes status.etcd when it changed, or when the last write is
// older than statusRefresh.
func (r *Reconciler) patchEtcdStatus(ctx context.Context, c *v1alpha1.Cluster, next *v1alpha1.EtcdStatus) error {
	if !etcdStatusChanged(c.Status.Etcd, next, r.Now()) {
		return nil
	}
	patch, err := etcdStatusPatch(next)
	if err != nil {
		return err
	}
	err = r.Client.Status().Patch(ctx, c, client.RawPatch(types.MergePatchType, patch))
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("patching status.etcd: %w", err)
	}
	return nil
}
