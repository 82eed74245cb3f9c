package cell

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
	"github.com/cellplane/cellplane/internal/components"
	"github.com/cellplane/cellplane/internal/controlplane"
	"github.com/cellplane/cellplane/internal/etcdcare"
	"github.com/cellplane/cellplane/internal/ipam"
)

// Etcd care defaults.
const (
	// DefaultEtcdCareInterval is how often each ACTIVE cluster's etcd is measured.
	DefaultEtcdCareInterval = 5 * time.Second
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

// EtcdCareReconciler keeps the etcd of every ACTIVE cluster of one cell healthy:
// it measures it into status.etcd, compacts history an API server failed to
// compact, defragments members that need it without stalling the leader, and
// recovers from the NOSPACE alarm. It writes status.etcd only; the
// ClusterReconciler owns every other status field and the conditions.
type EtcdCareReconciler struct {
	Client client.Client
	Cell   ipam.Cell
	Dir    string // the cell's directory, as for ClusterReconciler
	Logger *slog.Logger
	// Dial defaults to a clientv3 client with cellplane's etcd client certificate.
	Dial EtcdDialer
	// Defrag says when a member is due for defragmentation; zero fields take
	// etcdcare's defaults. Tests lower the thresholds.
	Defrag     etcdcare.Policy
	Compaction etcdcare.CompactionPolicy
	// Interval defaults to DefaultEtcdCareInterval, OverQuotaBackoff to
	// DefaultOverQuotaBackoff.
	Interval         time.Duration
	OverQuotaBackoff time.Duration
	// Now defaults to time.Now.
	Now func() time.Time
	// Zones says which zones are shifted out of the cell: etcd's leader is
	// moved out of them. Nil shifts none.
	Zones *ZoneShifts

	mu     sync.Mutex
	states map[types.NamespacedName]*etcdCareState
}

// etcdCareState is what etcd care keeps between passes over one cluster. Passes
// over one cluster never overlap (the work queue serializes a key), so only the
// map needs the lock.
type etcdCareState struct {
	uid   types.UID
	ops   EtcdOps
	zones map[string]string // member name → zone
	// noSpaceRetryAt holds NOSPACE recovery back after live data was found over
	// the quota; overQuota is the message shown meanwhile.
	noSpaceRetryAt time.Time
	overQuota      string
	// lastDefrag and lastCompaction are the times this process last wrote.
	lastDefrag, lastCompaction *metav1.Time
}

// SetupWithManager registers the controller, and closes every etcd client when
// the manager stops.
func (r *EtcdCareReconciler) SetupWithManager(mgr ctrl.Manager) error {
	r.Interval = cmp.Or(r.Interval, DefaultEtcdCareInterval)
	r.OverQuotaBackoff = cmp.Or(r.OverQuotaBackoff, DefaultOverQuotaBackoff)
	if r.Dial == nil {
		r.Dial = dialEtcd
	}
	if r.Now == nil {
		r.Now = time.Now
	}
	r.states = map[types.NamespacedName]*etcdCareState{}
	if err := mgr.Add(manager.RunnableFunc(func(ctx context.Context) error {
		<-ctx.Done()
		r.closeAll()
		return nil
	})); err != nil {
		return err
	}
	b := ctrl.NewControllerManagedBy(mgr).
		Named("etcdcare").
		For(&v1alpha1.Cluster{}, builder.WithPredicates(lifecycleChanged)).
		WithOptions(controller.Options{MaxConcurrentReconciles: 8})
	if r.Zones != nil {
		// A zone going out moves etcd's leader at once, not at the next poll.
		wake := make(chan event.GenericEvent)
		b = b.WatchesRawSource(source.Channel(wake, &handler.EnqueueRequestForObject{}))
		if err := mgr.Add(manager.RunnableFunc(func(ctx context.Context) error {
			return wakeOnZoneChange(ctx, r.Client, r.Zones, r.Logger, wake, nil)
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
func (r *EtcdCareReconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
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
	st, err := r.state(req.NamespacedName, c)
	if err != nil {
		return ctrl.Result{}, err
	}
	log := r.Logger.With("cluster", c.Spec.Name, "namespace", c.Namespace)
	next := r.care(ctx, log, c, st)
	if err := r.patchEtcdStatus(ctx, c, next); err != nil {
		return ctrl.Result{}, err
	}
	return ctrl.Result{RequeueAfter: r.Interval}, nil
}

// state returns the cluster's state, connecting on first use and again when the
// name now belongs to a new cluster (a new UID is a new etcd cluster).
func (r *EtcdCareReconciler) state(key types.NamespacedName, c *v1alpha1.Cluster) (*etcdCareState, error) {
	r.mu.Lock()
	st, ok := r.states[key]
	r.mu.Unlock()
	if ok && st.uid == c.UID {
		return st, nil
	}
	r.forget(key)
	p := newPlan(r.Dir, r.Cell, c, components.KubernetesBinaries{}, components.EtcdBinaries{})
	ops, err := r.Dial(p)
	if err != nil {
		return nil, err
	}
	st = &etcdCareState{uid: c.UID, ops: ops, zones: map[string]string{}}
	for _, m := range p.Members(controlplane.KindEtcd) {
		st.zones[m.Name()] = m.Zone
	}
	r.mu.Lock()
	r.states[key] = st
	r.mu.Unlock()
	return st, nil
}

// forget closes the cluster's etcd client, if there is one.
func (r *EtcdCareReconciler) forget(key types.NamespacedName) {
	r.mu.Lock()
	st, ok := r.states[key]
	delete(r.states, key)
	r.mu.Unlock()
	if ok {
		_ = st.ops.Close()
	}
}

func (r *EtcdCareReconciler) closeAll() {
	r.mu.Lock()
	states := r.states
	r.states = map[types.NamespacedName]*etcdCareState{}
	r.mu.Unlock()
	for _, st := range states {
		_ = st.ops.Close()
	}
}

// connected reports how many clusters have an open etcd client; for tests.
func (r *EtcdCareReconciler) connected() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.states)
}

// patchEtcdStatus writes status.etcd when it changed, or when the last write is
// older than statusRefresh.
func (r *EtcdCareReconciler) patchEtcdStatus(ctx context.Context, c *v1alpha1.Cluster, next *v1alpha1.EtcdStatus) error {
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
