package rollouts

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/cellplane/cellplane/api/v1alpha1"
	"github.com/cellplane/cellplane/internal/store/storetest"
)

var env storetest.Env

func TestMain(m *testing.M) { storetest.Main(m, &env) }

// fleet is a region on the real store: two cells of two ACTIVE clusters of
// 1.37, and a hand on what the cells would report, since no cell runs here.
type fleet struct {
	t     *testing.T
	c     client.Client
	ns    string
	cells []string
	clock time.Time
	r     *Reconciler
	// probes is each cluster's running count, as its cell reports it.
	probes map[string]*v1alpha1.ClusterAPIHealth
}

func newFleet(t *testing.T) *fleet {
	f := &fleet{t: t, c: env.Client(t), ns: env.Namespace(t), clock: time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC),
		probes: map[string]*v1alpha1.ClusterAPIHealth{}}
	f.r = &Reconciler{Client: f.c, Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), Now: func() time.Time { return f.clock }}
	for i := 1; i <= 2; i++ {
		cell := fmt.Sprintf("%s-cell-%d", f.ns, i)
		f.cells = append(f.cells, cell)
		env.Create(t, &v1alpha1.Cell{ObjectMeta: metav1.ObjectMeta{Name: cell}, Spec: v1alpha1.CellSpec{Capacity: 10}})
		for j := 1; j <= 2; j++ {
			f.cluster(fmt.Sprintf("c%d%d", i, j), cell)
		}
	}
	f.healthy(5)
	return f
}

func (f *fleet) cluster(name, cell string) {
	c := &v1alpha1.Cluster{ObjectMeta: metav1.ObjectMeta{Namespace: f.ns, Name: name},
		Spec:   v1alpha1.ClusterSpec{Name: name, Version: "1.37", Cell: cell},
		Status: v1alpha1.ClusterStatus{Status: v1alpha1.StatusActive, PlatformVersion: "cellplane.1"}}
	meta.SetStatusCondition(&c.Status.Conditions, metav1.Condition{Type: v1alpha1.ConditionReady, Status: metav1.ConditionTrue, Reason: "Ready"})
	env.CreateWithStatus(f.t, c)
	f.probes[f.ns+"/"+name] = &v1alpha1.ClusterAPIHealth{Cluster: f.ns + "/" + name}
}

// healthy adds n good probes of 10 ms to every cluster, failing adds n
// failed ones to one; report writes the counts to the cells' status.
func (f *fleet) healthy(n int64) {
	for _, h := range f.probes {
		h.Requests += n
		h.LatencyMillisecondsSum += 10 * n
	}
	f.report()
}

func (f *fleet) failing(name string, n int64) {
	h := f.probes[f.ns+"/"+name]
	h.Requests += n
	h.Errors += n
	f.report()
}

func (f *fleet) report() {
	ctx := context.Background()
	for _, cell := range f.cells {
		c := &v1alpha1.Cell{}
		if err := f.c.Get(ctx, types.NamespacedName{Name: cell}, c); err != nil {
			f.t.Fatal(err)
		}
		c.Status.HeartbeatTime = &metav1.Time{Time: f.clock}
		c.Status.APIHealth = nil
		for _, h := range f.probes {
			c.Status.APIHealth = append(c.Status.APIHealth, *h)
		}
		if err := f.c.Status().Update(ctx, c); err != nil {
			f.t.Fatal(err)
		}
	}
}

// runs makes a cluster report running version, as its cell would once its
// members restarted on it.
func (f *fleet) runs(name, version string) {
	c := f.get(name)
	c.Status.PlatformVersion = version
	if err := f.c.Status().Update(context.Background(), c); err != nil {
		f.t.Fatal(err)
	}
}

func (f *fleet) get(name string) *v1alpha1.Cluster {
	c := &v1alpha1.Cluster{}
	if err := f.c.Get(context.Background(), types.NamespacedName{Namespace: f.ns, Name: name}, c); err != nil {
		f.t.Fatal(err)
	}
	return c
}

func (f *fleet) start(name, version string) *v1alpha1.PlatformRollout {
	ro := &v1alpha1.PlatformRollout{ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: v1alpha1.PlatformRolloutSpec{Minor: "1.37", PlatformVersion: version, Cells: f.cells, BakeSeconds: 10, ApplySeconds: 60}}
	env.Create(f.t, ro)
	return ro
}

// step reconciles once and returns the rollout as stored.
func (f *fleet) step(name string) *v1alpha1.PlatformRollout {
	f.t.Helper()
	if _, err := f.r.Reconcile(context.Background(), ctrl.Request{NamespacedName: types.NamespacedName{Name: name}}); err != nil {
		f.t.Fatalf("reconcile %s: %v", name, err)
	}
	ro := &v1alpha1.PlatformRollout{}
	if err := f.c.Get(context.Background(), types.NamespacedName{Name: name}, ro); err != nil {
		f.t.Fatal(err)
	}
	return ro
}

func (f *fleet) specs() map[string]string {
	out := map[string]string{}
	for _, n := range []string{"c11", "c12", "c21", "c22"} {
		out[n] = f.get(n).Spec.PlatformVersion
	}
	return out
}

// A canary whose API fails while baking halts the rollout and gets its
// previous version back; no other cluster is ever touched.
func TestErrorRateHaltsAndRollsBackTheCanary(t *testing.T) {
	f := newFleet(t)
	name := f.ns + "-bad"
	f.start(name, "cellplane.2")
	ro := f.step(name)
	if ro.Status.State != v1alpha1.RolloutRunning || len(ro.Status.Waves) != 4 || ro.Status.Waves[0].Targets[0].Name != "c11" {
		t.Fatalf("started: %s, waves %+v", ro.Status.State, ro.Status.Waves)
	}
	ro = f.step(name) // the canary's baseline
	if w := ro.Status.Waves[0]; w.Phase != v1alpha1.WaveApplying || w.Targets[0].Baseline.Requests != 5 {
		t.Fatalf("canary %+v", w)
	}
	f.step(name) // sets the version
	if got := f.specs(); got["c11"] != "cellplane.2" || got["c12"] != "" || got["c21"] != "" || got["c22"] != "" {
		t.Fatalf("specs after the canary's apply: %v", got)
	}
	f.runs("c11", "cellplane.2")
	if ro = f.step(name); ro.Status.Waves[0].Phase != v1alpha1.WaveBaking {
		t.Fatalf("canary %s, want Baking", ro.Status.Waves[0].Phase)
	}
	if ro = f.step(name); ro.Status.Waves[0].Targets[0].BakeStart != nil {
		t.Fatal("the bake's start point was taken from a report older than the bake")
	}
	f.clock = f.clock.Add(3 * time.Second)
	f.healthy(1)
	if ro = f.step(name); ro.Status.Waves[0].Targets[0].BakeStart == nil {
		t.Fatal("no start point for the bake from a later report")
	}
	f.failing("c11", 4)
	f.healthy(1)
	ro = f.step(name)
	if ro.Status.State != v1alpha1.RolloutRollingBack || ro.Status.Alarm == nil || ro.Status.Alarm.Kind != AlarmErrorRate || ro.Status.Alarm.Cluster != "c11" {
		t.Fatalf("after failures: %s, alarm %+v", ro.Status.State, ro.Status.Alarm)
	}
	t.Logf("alarm: %s", ro.Status.Alarm.Message)
	f.step(name)
	if got := f.specs(); got["c11"] != "" {
		t.Fatalf("the canary keeps %q after the rollback", got["c11"])
	}
	if ro = f.step(name); ro.Status.State != v1alpha1.RolloutRollingBack {
		t.Fatalf("halted before the canary runs its old version: %s", ro.Status.State)
	}
	f.runs("c11", "cellplane.1")
	ro = f.step(name)
	if ro.Status.State != v1alpha1.RolloutHalted || ro.Status.Waves[0].Phase != v1alpha1.WaveRolledBack || ro.Status.Waves[1].Phase != v1alpha1.WavePending {
		t.Fatalf("end: %s %q, waves %+v", ro.Status.State, ro.Status.Message, ro.Status.Waves)
	}
	for n, v := range f.specs() {
		if v != "" {
			t.Errorf("%s left on %q", n, v)
		}
	}
	if f.step(name).Status.State != v1alpha1.RolloutHalted {
		t.Error("a halted rollout moved on")
	}
}

// A good version goes through every wave, each after its bake time, one
// cell at a time.
func TestGoodRolloutCompletesEveryWave(t *testing.T) {
	f := newFleet(t)
	name := f.ns + "-good"
	f.start(name, "cellplane.2")
	f.step(name)
	for wave := 0; wave < 4; wave++ {
		ro := f.step(name) // baseline
		f.step(name)       // apply
		for _, tg := range ro.Status.Waves[wave].Targets {
			if f.get(tg.Name).Spec.PlatformVersion != "cellplane.2" {
				t.Fatalf("wave %d: %s not set", wave, tg.Name)
			}
			f.runs(tg.Name, "cellplane.2")
		}
		if ro = f.step(name); ro.Status.Waves[wave].Phase != v1alpha1.WaveBaking {
			t.Fatalf("wave %d %s, want Baking", wave, ro.Status.Waves[wave].Phase)
		}
		// The members' restart failed probes, in a report from before the
		// bake settled: they are not the bake's.
		f.failing(ro.Status.Waves[wave].Targets[0].Name, 3)
		f.step(name)
		f.clock = f.clock.Add(3 * time.Second)
		f.healthy(1)
		f.step(name)
		f.healthy(5)
		if ro = f.step(name); ro.Status.CurrentWave != int32(wave) || ro.Status.State != v1alpha1.RolloutRunning {
			t.Fatalf("wave %d ended before its bake time", wave)
		}
		f.clock = f.clock.Add(8 * time.Second)
		if ro = f.step(name); ro.Status.Waves[wave].Phase != v1alpha1.WaveDone || ro.Status.CurrentWave != int32(wave+1) {
			t.Fatalf("wave %d %s after its bake", wave, ro.Status.Waves[wave].Phase)
		}
		if wave == 1 && f.get("c21").Spec.PlatformVersion != "" {
			t.Fatal("the second cell moved while the first was baking")
		}
	}
	if ro := f.step(name); ro.Status.State != v1alpha1.RolloutCompleted {
		t.Fatalf("end: %s", ro.Status.State)
	}
	for n, v := range f.specs() {
		if v != "cellplane.2" {
			t.Errorf("%s on %q", n, v)
		}
	}
}

// Operators pause, resume and abort; a second rollout of the same minor is
// refused while one runs; a canary that never runs the version healthy
// halts the rollout once the apply time is up.
func TestSteeringAndRefusals(t *testing.T) {
	f := newFleet(t)
	name := f.ns + "-steer"
	ro := f.start(name, "cellplane.2")
	other := f.ns + "-zsecond" // created in the same second: names break the tie
	f.start(other, "cellplane.2")
	// Both created before either started: the later one is refused.
	if got := f.step(other); got.Status.State != v1alpha1.RolloutAborted {
		t.Fatalf("a second rollout of 1.37 is %s", got.Status.State)
	} else {
		t.Logf("second rollout: %s", got.Status.Message)
	}
	if got := f.step(name); got.Status.State != v1alpha1.RolloutRunning {
		t.Fatalf("the first rollout is %s: %s", got.Status.State, got.Status.Message)
	}
	patch := func(s string) {
		if err := f.c.Patch(context.Background(), ro, client.RawPatch(types.MergePatchType, []byte(s))); err != nil {
			t.Fatal(err)
		}
	}
	patch(`{"spec":{"paused":true}}`)
	if got := f.step(name); got.Status.State != v1alpha1.RolloutPaused || got.Status.Waves[0].Phase != v1alpha1.WavePending {
		t.Fatalf("paused: %s, canary %s", got.Status.State, got.Status.Waves[0].Phase)
	}
	f.step(name)
	if got := f.specs(); got["c11"] != "" {
		t.Fatal("a paused rollout set a version")
	}
	patch(`{"spec":{"paused":false}}`)
	f.step(name)
	f.step(name)
	if f.get("c11").Spec.PlatformVersion != "cellplane.2" {
		t.Fatal("the resumed rollout did not set the canary")
	}
	f.clock = f.clock.Add(61 * time.Second)
	got := f.step(name)
	if got.Status.State != v1alpha1.RolloutRollingBack || got.Status.Alarm.Kind != AlarmNotHealthy {
		t.Fatalf("after the apply time: %s, alarm %+v", got.Status.State, got.Status.Alarm)
	}
	patch(`{"spec":{"abort":true}}`)
	f.step(name)
	if f.get("c11").Spec.PlatformVersion != "" {
		t.Fatal("the canary was not rolled back")
	}
	f.clock = f.clock.Add(61 * time.Second) // the canary never reports back
	if got = f.step(name); got.Status.State != v1alpha1.RolloutHalted {
		t.Fatalf("end: %s %q", got.Status.State, got.Status.Message)
	}
	t.Logf("halted: %s", got.Status.Message)

	third := f.ns + "-third"
	f.start(third, "cellplane.2")
	f.step(third)
	patch2 := &v1alpha1.PlatformRollout{ObjectMeta: metav1.ObjectMeta{Name: third}}
	if err := f.c.Patch(context.Background(), patch2, client.RawPatch(types.MergePatchType, []byte(`{"spec":{"abort":true}}`))); err != nil {
		t.Fatal(err)
	}
	if got := f.step(third); got.Status.State != v1alpha1.RolloutAborted {
		t.Fatalf("aborted rollout is %s", got.Status.State)
	}
}
