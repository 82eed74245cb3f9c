package storetest

import (
	"context"
	"encoding/json"
	"errors"
	"io/fs"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/cellplane/cellplane/api/v1alpha1"
	"github.com/cellplane/cellplane/internal/runtime/process"
)

var env Env

func TestMain(m *testing.M) { Main(m, &env) }

func TestCandidatesStayInRange(t *testing.T) {
	for _, n := range []int{0, 1, 253, 254, 255, hostsPerNet - 1, hostsPerNet, octets*hostsPerNet - 1, octets * hostsPerNet, 4194304} {
		ip := candidate(n)
		if ip[0] != 127 || ip[1] < firstOctet || ip[1] >= firstOctet+octets || ip[3] == 0 || ip[3] == 255 {
			t.Errorf("candidate(%d) = %s, outside 127.%d-%d with a host part of 1-254", n, ip, firstOctet, firstOctet+octets-1)
		}
	}
	if candidate(0).Equal(candidate(1)) || !candidate(0).Equal(candidate(octets*hostsPerNet)) {
		t.Error("neighbouring PIDs share an address, or the range does not wrap")
	}
}

// Two claims of one address cannot both hold, and a closed claim is free again:
// what keeps parallel test binaries apart.
func TestClaimIsExclusive(t *testing.T) {
	ip := net.IPv4(127, firstOctet+octets-1, 255, 254)
	first, err := net.Listen("unix", claimName(ip))
	if err != nil {
		t.Fatal(err)
	}
	if second, err := net.Listen("unix", claimName(ip)); err == nil {
		second.Close()
		t.Fatal("a second claim of the same address succeeded")
	}
	first.Close()
	again, err := net.Listen("unix", claimName(ip))
	if err != nil {
		t.Fatalf("the address is not free after its claim closed: %v", err)
	}
	again.Close()
}

func TestNamePrefix(t *testing.T) {
	for in, want := range map[string]string{
		"TestPlace/skips_draining":       "testplace-skips-draining",
		"Test" + strings.Repeat("X", 60): "test" + strings.Repeat("x", 36),
		"__":                             "test",
	} {
		if got := namePrefix(in); got != want {
			t.Errorf("namePrefix(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestNamespacesAndAccountsAreFresh(t *testing.T) {
	a, b := env.Namespace(t), env.Namespace(t)
	if a == b || !strings.HasPrefix(a, "testnamespacesandaccountsarefresh-") {
		t.Fatalf("namespaces %s and %s", a, b)
	}
	var ns corev1.Namespace
	if err := env.Client(t).Get(t.Context(), client.ObjectKey{Name: a}, &ns); err != nil {
		t.Fatal(err)
	}
	if x, y := env.Account(), env.Account(); x == y || len(x) != 12 || x == v1alpha1.DefaultAccount {
		t.Fatalf("accounts %s and %s", x, y)
	}
}

// The store is real: it validates against the CRD and ignores status on create,
// so CreateWithStatus must write the status separately.
func TestStoreIsReal(t *testing.T) {
	c := env.Client(t)
	bad := &v1alpha1.Cell{ObjectMeta: metav1.ObjectMeta{Name: "negative"}, Spec: v1alpha1.CellSpec{Capacity: -1}}
	if err := c.Create(t.Context(), bad); !apierrors.IsInvalid(err) {
		t.Fatalf("a Cell with negative capacity: %v, want a validation error", err)
	}
	beat := metav1.NewTime(time.Unix(1700000000, 0))
	cell := &v1alpha1.Cell{ObjectMeta: metav1.ObjectMeta{Name: "real"}, Spec: v1alpha1.CellSpec{Capacity: 3},
		Status: v1alpha1.CellStatus{HeartbeatTime: &beat, Clusters: 2}}
	env.CreateWithStatus(t, cell)
	var got v1alpha1.Cell
	if err := c.Get(t.Context(), client.ObjectKey{Name: "real"}, &got); err != nil {
		t.Fatal(err)
	}
	if got.Status.HeartbeatTime == nil || !got.Status.HeartbeatTime.Equal(&beat) || got.Status.Clusters != 2 || got.Spec.Capacity != 3 {
		t.Fatalf("stored %+v", got)
	}
}

// Cluster-scoped objects a test creates are gone when it ends, finalizers or not.
func TestCleanupDeletesClusterScoped(t *testing.T) {
	c := env.Client(t)
	t.Run("creates", func(t *testing.T) {
		env.Create(t, &v1alpha1.Cell{ObjectMeta: metav1.ObjectMeta{Name: "gone"}})
		held := &v1alpha1.Cell{ObjectMeta: metav1.ObjectMeta{Name: "held", Finalizers: []string{"cellplane.io/test"}}}
		if err := c.Create(t.Context(), held); err != nil {
			t.Fatal(err)
		}
		env.DeleteOnCleanup(t, held)
	})
	for _, name := range []string{"gone", "held"} {
		if err := c.Get(t.Context(), client.ObjectKey{Name: name}, &v1alpha1.Cell{}); !apierrors.IsNotFound(err) {
			t.Errorf("cell %s after its test: %v, want not found", name, err)
		}
	}
}

// A store that Start started, Stop takes down: its processes are gone and its
// directory is removed.
func TestStartStop(t *testing.T) {
	e, err := Start(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	specs := e.run.runner.recorded()
	dir := e.run.dir.path
	if len(specs) != 2 {
		t.Fatalf("store processes %v, want etcd and kube-apiserver", specs)
	}
	pids, starts := make([]int, len(specs)), make([]uint64, len(specs))
	for i, s := range specs {
		pids[i], starts[i] = pidOf(t, s)
	}
	if err := e.Client(t).List(t.Context(), &v1alpha1.ClusterList{}); err != nil {
		t.Fatalf("listing clusters: %v", err)
	}
	if err := e.Stop(t.Context()); err != nil {
		t.Fatal(err)
	}
	for i, pid := range pids {
		if process.Alive(pid, starts[i]) {
			t.Errorf("process %d still runs", pid)
		}
	}
	if _, err := os.Stat(dir); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("store directory %s: %v, want it removed", dir, err)
	}
	if err := e.Stop(t.Context()); err != nil {
		t.Errorf("a second Stop: %v", err)
	}
}

// pidOf reads a process's PID and start time from the runtime's pid file.
func pidOf(t *testing.T, s process.Spec) (int, uint64) {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(s.StateDir, s.Name+".pid"))
	if err != nil {
		t.Fatal(err)
	}
	var pf struct {
		PID       int    `json:"pid"`
		StartTime uint64 `json:"startTime"`
	}
	if err := json.Unmarshal(data, &pf); err != nil {
		t.Fatal(err)
	}
	return pf.PID, pf.StartTime
}

// The reaper takes down what a dead binary left: its processes and directory.
// A directory whose owner lives is left alone.
func TestReap(t *testing.T) {
	sleep, err := exec.LookPath("sleep")
	if err != nil {
		t.Skip("no sleep binary")
	}
	dead := leftover(t, sleep)
	live, err := makeOwnedDir()
	if err != nil {
		t.Fatal(err)
	}
	defer live.remove() //nolint:errcheck // cleanup of a test fixture

	reapStale(t.Context())
	if _, err := os.Stat(dead.dir); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("the dead binary's directory: %v, want it removed", err)
	}
	if process.Alive(dead.pid, dead.startTime) {
		t.Errorf("the dead binary's process %d still runs", dead.pid)
	}
	if _, err := os.Stat(live.path); err != nil {
		t.Errorf("a live owner's directory was reaped: %v", err)
	}
}

type leftoverStore struct {
	dir       string
	pid       int
	startTime uint64
}

// leftover makes what a binary that died mid-test leaves: a store directory
// whose lock nobody holds, with a process list naming a running process.
func leftover(t *testing.T, sleep string) leftoverStore {
	t.Helper()
	d, err := makeOwnedDir()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.RemoveAll(d.path) }) // a temp fixture
	rt := process.New(process.Options{})
	defer rt.Close()
	rec := &recorder{rt: rt, file: d.specsFile()}
	spec := process.Spec{ID: "leftover/sleep", Path: sleep, Args: []string{"300"}, StateDir: filepath.Join(d.path, "logs"), Name: "sleep"}
	if _, err := rec.Ensure(context.Background(), spec); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = rt.Stop(context.Background(), spec) })
	d.lock.Close() // the owner dies
	pid, startTime := pidOf(t, spec)
	return leftoverStore{dir: d.path, pid: pid, startTime: startTime}
}

// Without the components, the store fails with a message that says what to run,
// and builds nothing.
func TestMissingComponents(t *testing.T) {
	cache := t.TempDir()
	t.Setenv("CELLPLANE_CACHE_DIR", cache)
	_, err := findBinaries(t.Context())
	if !errors.Is(err, ErrNoComponents) || !strings.Contains(err.Error(), "make components") || !strings.Contains(err.Error(), cache) {
		t.Fatalf("findBinaries with an empty cache = %v, want ErrNoComponents naming the cache and make components", err)
	}
	if entries, _ := os.ReadDir(cache); len(entries) != 0 {
		t.Errorf("the empty cache got %d entries: something started a build", len(entries))
	}
}
