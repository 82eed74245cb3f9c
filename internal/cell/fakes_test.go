package cell

import (
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"

	"github.com/cellplane/cellplane/api/v1alpha1"
	"github.com/cellplane/cellplane/internal/components"
	"github.com/cellplane/cellplane/internal/ipam"
	"github.com/cellplane/cellplane/internal/runtime/process"
)

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
	st := process.Status{PID: 1000 + f.pids, Running: true, StartedAt: time.Now()}
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
}

var (
	testKube = components.KubernetesBinaries{
		Release:               components.Default(),
		KubeAPIServer:         "/fake/kubernetes/kube-apiserver",
		KubeControllerManager: "/fake/kubernetes/kube-controller-manager",
		KubeScheduler:         "/fake/kubernetes/kube-scheduler",
		Kubectl:               "/fake/kubernetes/kubectl",
	}
	testEtcd = components.EtcdBinaries{Version: components.EtcdVersion, Etcd: "/fake/etcd/etcd"}
)

func (f *fakeBinaries) Kubernetes(_ context.Context, r components.Release) (components.KubernetesBinaries, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls++
	b := testKube
	b.Release = r
	return b, f.err
}

func (f *fakeBinaries) Etcd(context.Context) (components.EtcdBinaries, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls++
	return testEtcd, f.err
}

func (f *fakeBinaries) count() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.calls
}

func testScheme(t *testing.T) *runtime.Scheme {
	t.Helper()
	sc := runtime.NewScheme()
	if err := clientgoscheme.AddToScheme(sc); err != nil {
		t.Fatal(err)
	}
	if err := v1alpha1.AddToScheme(sc); err != nil {
		t.Fatal(err)
	}
	return sc
}

func newFakeClient(t *testing.T, objs ...client.Object) client.Client {
	t.Helper()
	return fake.NewClientBuilder().WithScheme(testScheme(t)).
		WithStatusSubresource(&v1alpha1.Cluster{}).WithObjects(objs...).Build()
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

// newReconciler returns a reconciler on a fake store holding objs, as
// SetupWithManager would configure it.
func newReconciler(t *testing.T, objs ...client.Object) (*ClusterReconciler, *fakeRunner, *fakeBinaries) {
	t.Helper()
	dir := t.TempDir()
	lbDir := filepath.Join(dir, "lb", "endpoints")
	if err := os.MkdirAll(lbDir, 0o700); err != nil {
		t.Fatal(err)
	}
	cl := newFakeClient(t, objs...)
	runner, bins := &fakeRunner{}, &fakeBinaries{}
	r := &ClusterReconciler{
		Client: cl, CellName: "cell-1", Cell: testCellPlan(t), Dir: dir, LBDir: lbDir,
		Runner: runner, Binaries: bins, Logger: slog.New(slog.DiscardHandler),
		CreateTimeout: time.Minute, started: time.Now(),
	}
	r.slots.client = cl
	t.Cleanup(func() {
		r.probers.Range(func(_, pr any) bool {
			pr.(interface{ Close() }).Close()
			return true
		})
	})
	return r, runner, bins
}

// testCluster is a cluster as the agent copies it into the cell's store.
func testCluster(mods ...func(*v1alpha1.Cluster)) *v1alpha1.Cluster {
	c := &v1alpha1.Cluster{
		ObjectMeta: metav1.ObjectMeta{
			Namespace: v1alpha1.Namespace(v1alpha1.DefaultAccount), Name: "demo", UID: "uid-demo",
			CreationTimestamp: metav1.Now(),
		},
		Spec: v1alpha1.ClusterSpec{Name: "demo", Version: "1.35", Cell: "cell-1"},
	}
	for _, m := range mods {
		m(c)
	}
	return c
}

func slotPtr(s int32) *int32 { return &s }
