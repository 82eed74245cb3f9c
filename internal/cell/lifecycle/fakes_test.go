package lifecycle

import (
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/cellplane/cellplane/api/v1alpha1"
	"github.com/cellplane/cellplane/internal/cell/endpoint"
	"github.com/cellplane/cellplane/internal/cell/etcdstate"
	"github.com/cellplane/cellplane/internal/cell/tenant"
	"github.com/cellplane/cellplane/internal/components"
	"github.com/cellplane/cellplane/internal/ipam"
	"github.com/cellplane/cellplane/internal/runtime/process"
	"github.com/cellplane/cellplane/internal/store/storetest"
)

// The package's tests share one real management store: CRD validation, the
// status subresource and merge patches behave as in production. Each test
// keeps to a namespace of its own and deletes the clusters it made.
var env storetest.Env

func TestMain(m *testing.M) { storetest.Main(m, &env) }

var discard = slog.New(slog.DiscardHandler)

// fakeRunner records what the controller asks of the process runtime and reports
// every ensured process as running.
type fakeRunner struct {
	mu      sync.Mutex
	ensured []process.Spec
	stopped []process.Spec
	running map[string]process.Status
	pids    int
	stopErr error
}

func (f *fakeRunner) Ensure(_ context.Context, s process.Spec) (process.Status, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.ensured = append(f.ensured, s)
	if st, ok := f.running[s.ID]; ok {
		return st, nil
	}
	if f.running == nil {
		f.running = map[string]process.Status{}
	}
	f.pids++
	st := process.Status{PID: 1000 + f.pids, Running: true}
	f.running[s.ID] = st
	return st, nil
}

func (f *fakeRunner) Stop(_ context.Context, s process.Spec) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.stopped = append(f.stopped, s)
	if f.stopErr != nil {
		return f.stopErr
	}
	delete(f.running, s.ID)
	return nil
}

func (f *fakeRunner) Status(id string) (process.Status, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	st, ok := f.running[id]
	return st, ok
}

func (f *fakeRunner) calls() (ensured, stopped []process.Spec) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]process.Spec(nil), f.ensured...), append([]process.Spec(nil), f.stopped...)
}

// fakeBinaries hands out fixed paths, or err, and counts requests.
type fakeBinaries struct {
	mu    sync.Mutex
	calls int
	err   error
	root  string // replaces /fake in the paths when set
}

var (
	testKube = components.KubernetesBinaries{
		Release:               components.Default(),
		KubeAPIServer:         "/fake/kubernetes/kube-apiserver",
		KubeControllerManager: "/fake/kubernetes/kube-controller-manager",
		KubeScheduler:         "/fake/kubernetes/kube-scheduler",
	}
	testEtcd = components.EtcdBinaries{Version: components.EtcdVersion, Etcd: "/fake/etcd/etcd"}
)

func (f *fakeBinaries) Kubernetes(_ context.Context, r components.Release) (components.KubernetesBinaries, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls++
	b := testKube
	b.Release = r
	if f.root != "" {
		for _, p := range []*string{&b.KubeAPIServer, &b.KubeControllerManager, &b.KubeScheduler} {
			*p = strings.Replace(*p, "/fake", f.root, 1)
		}
	}
	return b, f.err
}

func (f *fakeBinaries) Etcd(context.Context) (components.EtcdBinaries, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls++
	b := testEtcd
	if f.root != "" {
		b.Etcd = strings.Replace(b.Etcd, "/fake", f.root, 1)
	}
	return b, f.err
}

func (f *fakeBinaries) count() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.calls
}

// testBlock is clear of the default instance (127.100) and odd, so its cell
// (127.250) is none of the e2e framework's cells, which are always odd: nothing
// answers on the members' addresses. Should something answer, it cannot pass the
// health checks against this test's fresh CA, so results stay the same.
const testBlock = "127.249"

func testCellPlan(t *testing.T) ipam.Cell {
	t.Helper()
	b, err := ipam.ParseBlock(testBlock, 1)
	if err != nil {
		t.Fatal(err)
	}
	return b.Cell(1)
}

func testLayout(t *testing.T) tenant.Layout {
	return tenant.Layout{Dir: t.TempDir(), Cell: testCellPlan(t), Joined: etcdstate.Joined}
}

// newReconciler returns a reconciler on the test store, as SetupWithManager
// would configure it.
func newReconciler(t *testing.T) (*Reconciler, *fakeRunner, *fakeBinaries) {
	t.Helper()
	layout := testLayout(t)
	lbDir := filepath.Join(layout.Dir, "lb", "endpoints")
	if err := os.MkdirAll(lbDir, 0o700); err != nil {
		t.Fatal(err)
	}
	cl := env.Client(t)
	runner, bins := &fakeRunner{}, &fakeBinaries{}
	r := &Reconciler{
		Client: cl, Layout: layout, Endpoint: &endpoint.Writer{Dir: lbDir},
		Runner: runner, Binaries: bins, Logger: discard,
		CreateTimeout: time.Minute, started: time.Now(),
	}
	r.slots.client, r.secrets.client = cl, cl
	t.Cleanup(func() {
		r.probers.m.Range(func(_, pr any) bool {
			pr.(interface{ Close() }).Close()
			return true
		})
	})
	return r, runner, bins
}

// testCluster is a cluster as the agent copies it into the cell's store, in
// t's own namespace.
func testCluster(t *testing.T, mods ...func(*v1alpha1.Cluster)) *v1alpha1.Cluster {
	t.Helper()
	c := &v1alpha1.Cluster{
		ObjectMeta: metav1.ObjectMeta{Namespace: env.Namespace(t), Name: "demo", CreationTimestamp: metav1.Now()},
		Spec:       v1alpha1.ClusterSpec{Name: "demo", Version: components.Default().Minor, Cell: "cell-1"},
	}
	for _, m := range mods {
		m(c)
	}
	return c
}

// create stores c with its status, as the agent and an earlier pass would
// have, and deletes it when t ends.
func create(t *testing.T, c *v1alpha1.Cluster) *v1alpha1.Cluster {
	t.Helper()
	env.CreateWithStatus(t, c)
	env.DeleteOnCleanup(t, c)
	return c
}

// createDeleting stores c and asks for its deletion: it stays, with its
// finalizer, until the reconciler lets it go.
func createDeleting(t *testing.T, c *v1alpha1.Cluster) *v1alpha1.Cluster {
	t.Helper()
	c.Finalizers = []string{v1alpha1.CellFinalizer}
	create(t, c)
	if err := env.Client(t).Delete(t.Context(), c); err != nil {
		t.Fatal(err)
	}
	return get(t, env.Client(t), c)
}

func request(c *v1alpha1.Cluster) ctrl.Request {
	return ctrl.Request{NamespacedName: client.ObjectKeyFromObject(c)}
}

func get(t *testing.T, cl client.Client, c *v1alpha1.Cluster) *v1alpha1.Cluster {
	t.Helper()
	out := &v1alpha1.Cluster{}
	if err := cl.Get(context.Background(), client.ObjectKeyFromObject(c), out); err != nil {
		t.Fatalf("reading cluster: %v", err)
	}
	return out
}

func slotPtr(s int32) *int32 { return &s }
