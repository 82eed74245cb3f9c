package care

import (
	"context"
	"log/slog"
	"sync"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/cellplane/cellplane/api/v1alpha1"
	"github.com/cellplane/cellplane/internal/cell/tenant"
	"github.com/cellplane/cellplane/internal/controlplane"
	"github.com/cellplane/cellplane/internal/etcdcare"
	"github.com/cellplane/cellplane/internal/ipam"
	"github.com/cellplane/cellplane/internal/store/storetest"
)

// Etcd care runs on a real management store: status.etcd is written with a
// merge patch through the status subresource, which the fake client did not
// check against the CRD. Each test keeps to a namespace of its own; etcd
// itself is faked.
var env storetest.Env

func TestMain(m *testing.M) { storetest.Main(m, &env) }

// fakeEtcd is Etcd with scripted answers; it counts the calls.
type fakeEtcd struct {
	mu        sync.Mutex
	cluster   etcdcare.Cluster
	statusErr error
	defrag    etcdcare.Report
	noSpace   etcdcare.NoSpaceReport
	noSpaceFn func() error
	calls     map[string]int
	movedTo   uint64
}

func (f *fakeEtcd) count(op string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.calls[op]
}

func (f *fakeEtcd) called(op string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.calls == nil {
		f.calls = map[string]int{}
	}
	f.calls[op]++
}

func (f *fakeEtcd) Status(context.Context) (etcdcare.Cluster, error) {
	f.called("status")
	return f.cluster, f.statusErr
}

func (f *fakeEtcd) CompactIfBehind(context.Context, etcdcare.CompactionPolicy, *slog.Logger) (etcdcare.CompactionReport, error) {
	f.called("compact")
	return etcdcare.CompactionReport{}, nil
}

func (f *fakeEtcd) Defragment(context.Context, etcdcare.Policy, *slog.Logger) (etcdcare.Report, error) {
	f.called("defrag")
	for i := range f.cluster.Members {
		f.cluster.Members[i].DBSize = f.cluster.Members[i].DBSizeInUse
	}
	return f.defrag, nil
}

func (f *fakeEtcd) RecoverNoSpace(context.Context, etcdcare.Policy, *slog.Logger) (etcdcare.NoSpaceReport, error) {
	f.called("nospace")
	var err error
	if f.noSpaceFn != nil {
		err = f.noSpaceFn()
	}
	return f.noSpace, err
}

func (f *fakeEtcd) MoveLeader(_ context.Context, _ etcdcare.Cluster, to uint64) error {
	f.called("moveleader")
	f.mu.Lock()
	defer f.mu.Unlock()
	f.movedTo = to
	for i := range f.cluster.Members {
		f.cluster.Members[i].Leader = f.cluster.Members[i].ID == to
		f.cluster.Members[i].LeaderID = to
	}
	f.cluster.LeaderID = to
	return nil
}

// healthyEtcd is three healthy members, etcd-a leading, each 10 MiB with 2 in use.
func healthyEtcd() etcdcare.Cluster {
	c := etcdcare.Cluster{LeaderID: 0xa, Quorum: true}
	for i, name := range []string{"etcd-a", "etcd-b", "etcd-c"} {
		c.Members = append(c.Members, etcdcare.Member{
			ID: uint64(0xa + i), Name: name, Leader: i == 0, LeaderID: 0xa,
			DBSize: 10 << 20, DBSizeInUse: 2 << 20, Quota: 32 << 20,
		})
	}
	return c
}

func slotPtr(s int32) *int32 { return &s }

// testCluster is a cluster as the agent copies it into the cell's store, in
// t's own namespace.
func testCluster(t *testing.T, mods ...func(*v1alpha1.Cluster)) *v1alpha1.Cluster {
	t.Helper()
	c := &v1alpha1.Cluster{
		ObjectMeta: metav1.ObjectMeta{Namespace: env.Namespace(t), Name: "demo"},
		Spec:       v1alpha1.ClusterSpec{Name: "demo", Version: "1.35", Cell: "cell-1"},
	}
	for _, m := range mods {
		m(c)
	}
	return c
}

func activeCluster(c *v1alpha1.Cluster) {
	c.Status.Status = v1alpha1.StatusActive
	c.Status.Slot = slotPtr(3)
	c.Status.Endpoint = "https://127.250.128.3:6443"
	c.Status.Conditions = []metav1.Condition{{Type: v1alpha1.ConditionReady, Status: metav1.ConditionTrue, Reason: "Ready", LastTransitionTime: metav1.Now()}}
}

// careFixture is a reconciler over one cluster of the store, whose etcd is
// etcd; dials counts the connections it asked the cell for.
type careFixture struct {
	r     *Reconciler
	key   types.NamespacedName
	now   *time.Time
	dials int
}

// newEtcdCare stores c with its status, as the lifecycle would have written
// it, and returns a reconciler configured as SetupWithManager would.
func newEtcdCare(t *testing.T, etcd *fakeEtcd, c *v1alpha1.Cluster) *careFixture {
	t.Helper()
	env.CreateWithStatus(t, c)
	b, err := ipam.ParseBlock("127.249", 1)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	f := &careFixture{key: client.ObjectKeyFromObject(c), now: &now}
	f.r = &Reconciler{
		Client: env.Client(t), Layout: tenant.Layout{Dir: t.TempDir(), Cell: b.Cell(1)}, Logger: slog.New(slog.DiscardHandler),
		Dial:     func(*controlplane.Plan) (Etcd, error) { f.dials++; return etcd, nil },
		Defrag:   etcdcare.Policy{MinDBSize: 8 << 20},
		Interval: DefaultInterval, OverQuotaBackoff: DefaultOverQuotaBackoff,
		Now:    func() time.Time { return *f.now },
		states: map[types.NamespacedName]*state{},
	}
	return f
}

func (f *careFixture) reconcile(t *testing.T) (ctrl.Result, *v1alpha1.Cluster) {
	t.Helper()
	res, err := f.r.Reconcile(context.Background(), ctrl.Request{NamespacedName: f.key})
	if err != nil {
		t.Fatal(err)
	}
	c := &v1alpha1.Cluster{}
	if err := f.r.Client.Get(context.Background(), f.key, c); err != nil {
		t.Fatal(err)
	}
	return res, c
}
