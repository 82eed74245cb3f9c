package certroll

import (
	"context"
	"errors"
	"log/slog"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/cellplane/cellplane/api/v1alpha1"
	"github.com/cellplane/cellplane/internal/controlplane"
	"github.com/cellplane/cellplane/internal/ipam"
	"github.com/cellplane/cellplane/internal/pki"
	"github.com/cellplane/cellplane/internal/runtime/process"
)

// fakeRunner runs nothing; it keeps what runs and, like the process
// runtime, calls BeforeStart before every start.
type fakeRunner struct {
	mu      sync.Mutex
	running map[string]bool
	events  []string // "stop <name>", "start <name>"
}

func (f *fakeRunner) Ensure(_ context.Context, s process.Spec) (process.Status, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if !f.running[s.ID] {
		if s.BeforeStart != nil {
			if err := s.BeforeStart(); err != nil {
				return process.Status{}, err
			}
		}
		f.running[s.ID] = true
		f.events = append(f.events, "start "+s.Name)
	}
	return process.Status{Running: true, PID: 1}, nil
}

func (f *fakeRunner) Stop(_ context.Context, s process.Spec) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	delete(f.running, s.ID)
	f.events = append(f.events, "stop "+s.Name)
	return nil
}

func (f *fakeRunner) Status(id string) (process.Status, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return process.Status{Running: f.running[id], PID: 1}, f.running[id]
}

func (f *fakeRunner) take() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := f.events
	f.events = nil
	return out
}

// fakeChecker reports members unhealthy by name, and notes each healthy
// check in the runner's events, so the tests see one timeline.
type fakeChecker struct {
	runner *fakeRunner
	mu     sync.Mutex
	sick   map[string]bool
}

func (f *fakeChecker) Check(_ context.Context, m controlplane.Member) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.sick[m.Name()] {
		return errors.New("not healthy")
	}
	f.runner.mu.Lock()
	defer f.runner.mu.Unlock()
	f.runner.events = append(f.runner.events, "healthy "+m.Name())
	return nil
}

func (f *fakeChecker) Close() {}

type fixture struct {
	p      *controlplane.Plan
	runner *fakeRunner
	chk    *fakeChecker
	roller *Roller
	c      *v1alpha1.Cluster
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	b, err := ipam.ParseBlock("127.249", 1)
	if err != nil {
		t.Fatal(err)
	}
	p := controlplane.New(controlplane.Input{Namespace: "acct-1", Name: "demo", UID: "uid-demo", ClusterName: "demo",
		Dir: t.TempDir(), Cell: b.Cell(1), Slot: 7})
	if _, err := pki.EnsureCluster(p.PKIDir(), p.PKISpec()); err != nil {
		t.Fatal(err)
	}
	runner := &fakeRunner{running: map[string]bool{}}
	f := &fixture{p: p, runner: runner, chk: &fakeChecker{runner: runner, sick: map[string]bool{}},
		c: &v1alpha1.Cluster{Spec: v1alpha1.ClusterSpec{Name: "demo"}}}
	f.roller = &Roller{Runner: f.runner, Logger: slog.New(slog.DiscardHandler), HealthTimeout: 300 * time.Millisecond,
		NewChecker: func(*controlplane.Plan) (Checker, error) { return f.chk, nil }}
	return f
}

// start starts every member as the cluster's pass does, with the hook.
func (f *fixture) start(t *testing.T) {
	t.Helper()
	for _, m := range f.p.AllMembers() {
		spec := f.p.Spec(m)
		spec.BeforeStart = BeforeStart(f.p, m)
		if _, err := f.runner.Ensure(context.Background(), spec); err != nil {
			t.Fatal(err)
		}
	}
	f.runner.take()
}

func (f *fixture) reconcile(t *testing.T) []string {
	t.Helper()
	if err := f.roller.Reconcile(context.Background(), f.c, f.p); err != nil {
		t.Fatal(err)
	}
	return f.runner.take()
}

// renew reissues the controller manager's certificate, as a renewal does.
func (f *fixture) renew(t *testing.T) {
	t.Helper()
	ca, err := pki.LoadCA(f.p.Files().CA, f.p.Files().CAKey)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := pki.EnsurePair(f.p.PKIDir(), "controller-manager", ca,
		pki.CertRequest{CommonName: "system:kube-controller-manager", Usage: pki.Client, Validity: time.Hour}); err != nil {
		t.Fatal(err)
	}
}

func TestNothingChangedRestartsNothing(t *testing.T) {
	f := newFixture(t)
	f.start(t)
	if ev := f.reconcile(t); len(ev) != 0 {
		t.Fatalf("restarted %v with no certificate changed", ev)
	}
}

// TestRenewedCertificateRollsOneAtATime: after a renewal the controller
// managers restart one after the other, each healthy before the next, and
// the schedulers, whose certificate did not change, stay.
func TestRenewedCertificateRollsOneAtATime(t *testing.T) {
	f := newFixture(t)
	f.start(t)
	f.renew(t)
	// Each restart waits for the member to be healthy, and each begins only
	// once its peer is.
	want := []string{
		"healthy kube-controller-manager-b", "stop kube-controller-manager-a", "start kube-controller-manager-a", "healthy kube-controller-manager-a",
		"healthy kube-controller-manager-a", "stop kube-controller-manager-b", "start kube-controller-manager-b", "healthy kube-controller-manager-b",
	}
	if ev := f.reconcile(t); !slices.Equal(ev, want) {
		t.Fatalf("events %v, want %v", ev, want)
	}
	if ev := f.reconcile(t); len(ev) != 0 {
		t.Fatalf("the next pass restarted %v again", ev)
	}
}

func TestPeerUnhealthyWaits(t *testing.T) {
	f := newFixture(t)
	f.start(t)
	f.renew(t)
	f.chk.sick["kube-controller-manager-b"] = true
	if ev := f.reconcile(t); len(ev) != 0 {
		t.Fatalf("restarted %v while its peer was unhealthy", ev)
	}
	f.chk.sick = map[string]bool{}
	if ev := f.reconcile(t); len(ev) != 8 {
		t.Fatalf("events %v once the peer is healthy, want both restarted", ev)
	}
}

// TestRestartedMemberNeverHealthyStopsTheRoll: the pass fails and the next
// member is left alone.
func TestRestartedMemberNeverHealthyStopsTheRoll(t *testing.T) {
	f := newFixture(t)
	f.start(t)
	f.renew(t)
	f.chk.sick["kube-controller-manager-a"] = true
	err := f.roller.Reconcile(context.Background(), f.c, f.p)
	if err == nil {
		t.Fatal("Reconcile succeeded with a member that never became healthy")
	}
	if ev := f.runner.take(); slices.Contains(ev, "stop kube-controller-manager-b") {
		t.Fatalf("events %v: restarted b while a was unhealthy", ev)
	}
}

// A member that does not run reads the disk when it starts: nothing to do.
// One that runs without a record started before records were kept: it
// restarts once.
func TestNotRunningAndUnrecorded(t *testing.T) {
	f := newFixture(t)
	f.renew(t)
	if ev := f.reconcile(t); len(ev) != 0 {
		t.Fatalf("restarted %v with nothing running", ev)
	}
	for _, m := range f.p.Members(controlplane.KindScheduler) {
		f.runner.running[f.p.Spec(m).ID] = true // adopted, no record
	}
	want := []string{"healthy kube-scheduler-b", "stop kube-scheduler-a", "start kube-scheduler-a", "healthy kube-scheduler-a",
		"healthy kube-scheduler-a", "stop kube-scheduler-b", "start kube-scheduler-b", "healthy kube-scheduler-b"}
	if ev := f.reconcile(t); !slices.Equal(ev, want) {
		t.Fatalf("events %v, want %v", ev, want)
	}
}

func TestBeforeStartOnlyForStartReaders(t *testing.T) {
	f := newFixture(t)
	for _, m := range f.p.AllMembers() {
		got := BeforeStart(f.p, m) != nil
		want := m.Kind == controlplane.KindControllerManager || m.Kind == controlplane.KindScheduler
		if got != want {
			t.Errorf("%s: hook %v, want %v", m.Name(), got, want)
		}
	}
}
