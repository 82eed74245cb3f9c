package bringup

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/cellplane/cellplane/api/v1alpha1"
	"github.com/cellplane/cellplane/internal/store/storetest"
)

var env storetest.Env

func TestMain(m *testing.M) { storetest.Main(m, &env) }

// clusters stores n CREATING clusters c1..cn in a namespace of t's own, in
// that order, as the agent would copy them into the cell's store.
func clusters(t *testing.T, n int) (string, []*v1alpha1.Cluster) {
	t.Helper()
	ns := env.Namespace(t)
	var out []*v1alpha1.Cluster
	for i := range n {
		name := "c" + string(rune('1'+i))
		c := &v1alpha1.Cluster{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
			Spec:   v1alpha1.ClusterSpec{Name: name, Version: "1.37", Cell: "cell-1"},
			Status: v1alpha1.ClusterStatus{Status: v1alpha1.StatusCreating}}
		env.CreateWithStatus(t, c)
		env.DeleteOnCleanup(t, c)
		out = append(out, c)
	}
	return ns, out
}

func admit(t *testing.T, g *Gate, c *v1alpha1.Cluster) bool {
	t.Helper()
	ok, err := g.Admit(t.Context(), c)
	if err != nil {
		t.Fatalf("Admit %s: %v", c.Name, err)
	}
	return ok
}

// TestOneSlotAdmitsInCreationOrder: with one slot the first cluster starts,
// the others queue with their positions in status and reason, and a slot
// freed wakes the head of the queue, which alone is admitted next.
func TestOneSlotAdmitsInCreationOrder(t *testing.T) {
	ns, cs := clusters(t, 3)
	g := NewGate(Config{Slots: 1, Lister: env.Client(t), Scope: []client.ListOption{client.InNamespace(ns)}})
	if !admit(t, g, cs[0]) {
		t.Fatal("the first bring-up was not admitted with a free slot")
	}
	if b := cs[0].Status.BringUp; b == nil || b.AdmittedAt == nil || b.QueuePosition != 0 {
		t.Fatalf("admitted cluster's bringUp = %+v", b)
	}
	for i, c := range cs[1:] {
		if admit(t, g, c) {
			t.Fatalf("%s admitted while the only slot is taken", c.Name)
		}
		if b := c.Status.BringUp; b == nil || b.QueuePosition != int32(i+1) || b.QueuedAt == nil || b.AdmittedAt != nil {
			t.Fatalf("%s's bringUp = %+v, want queue position %d", c.Name, b, i+1)
		}
	}
	if r := cs[2].Status.Reason; !strings.Contains(r, "2nd in the cell's queue") || !strings.Contains(r, "1 of 1 bring-ups running") {
		t.Errorf("queued reason %q", r)
	}
	// Still one slot: asking again changes nothing.
	if admit(t, g, cs[2]) || admit(t, g, cs[1]) {
		t.Fatal("a queued cluster was admitted while the slot is taken")
	}

	g.Done(cs[0].UID)
	select {
	case ev := <-g.Wakes():
		if ev.Object.GetName() != "c2" || ev.Object.GetNamespace() != ns {
			t.Fatalf("woke %s/%s, want the head of the queue %s/c2", ev.Object.GetNamespace(), ev.Object.GetName(), ns)
		}
	case <-time.After(time.Second):
		t.Fatal("a freed slot woke nobody")
	}
	if admit(t, g, cs[2]) {
		t.Fatal("c3 jumped the queue ahead of c2")
	}
	if cs[2].Status.BringUp.QueuePosition != 2 {
		t.Errorf("c3 at %d, want 2 while c2 has not taken the slot", cs[2].Status.BringUp.QueuePosition)
	}
	if !admit(t, g, cs[1]) {
		t.Fatal("the head of the queue was not admitted to the free slot")
	}
	// c2 leaves the queue for the slot: c3 is next.
	if admit(t, g, cs[2]) || cs[2].Status.BringUp.QueuePosition != 1 {
		t.Fatalf("c3: bringUp %+v, want queued first", cs[2].Status.BringUp)
	}
}

// TestDeletedWaiterLeavesTheQueue: a queued cluster deleted gives up its
// place, and the one behind it moves up without a slot changing hands.
func TestDeletedWaiterLeavesTheQueue(t *testing.T) {
	ns, cs := clusters(t, 3)
	g := NewGate(Config{Slots: 1, Lister: env.Client(t), Scope: []client.ListOption{client.InNamespace(ns)}})
	for _, c := range cs {
		admit(t, g, c)
	}
	g.Done(cs[1].UID)
	select {
	case ev := <-g.Wakes():
		t.Fatalf("a waiter leaving woke %s, but no slot freed", ev.Object.GetName())
	default:
	}
	if admit(t, g, cs[2]) || cs[2].Status.BringUp.QueuePosition != 1 {
		t.Fatalf("c3: bringUp %+v, want first in the queue", cs[2].Status.BringUp)
	}
}

// TestRestartCountsAdmittedBringUps: a new gate (a restarted cell) counts the
// bring-ups its store shows admitted and not finished before it admits
// another; a cluster that became ACTIVE or FAILED holds nothing.
func TestRestartCountsAdmittedBringUps(t *testing.T) {
	ns, cs := clusters(t, 4)
	ctx := context.Background()
	c := env.Client(t)
	before := NewGate(Config{Slots: 2, Lister: c, Scope: []client.ListOption{client.InNamespace(ns)}})
	for _, cl := range cs[:2] {
		if !admit(t, before, cl) {
			t.Fatalf("%s not admitted with two slots", cl.Name)
		}
		if err := c.Status().Update(ctx, cl); err != nil {
			t.Fatal(err)
		}
	}

	after := NewGate(Config{Slots: 2, Lister: c, Scope: []client.ListOption{client.InNamespace(ns)}})
	if admit(t, after, cs[2]) {
		t.Fatal("a restarted gate admitted a third bring-up beside the two under way")
	}
	// c1 finished before the restart, as far as the store knows: a third
	// gate gives its slot to c3.
	now := metav1.Now()
	cs[0].Status.ActiveAt, cs[0].Status.Status = &now, v1alpha1.StatusActive
	if err := c.Status().Update(ctx, cs[0]); err != nil {
		t.Fatal(err)
	}
	third := NewGate(Config{Slots: 2, Lister: c, Scope: []client.ListOption{client.InNamespace(ns)}})
	if !admit(t, third, cs[2]) {
		t.Fatal("a slot held by a cluster now ACTIVE was not given to the next")
	}
	if admit(t, third, cs[3]) {
		t.Fatal("c4 admitted beside c2 (under way) and c3")
	}
	// The admitted c2 keeps its slot on its own pass after the restart.
	if !admit(t, third, cs[1]) {
		t.Fatal("a bring-up admitted before the restart was refused after it")
	}
}

func TestNilGateAdmitsEverything(t *testing.T) {
	var g *Gate
	c := &v1alpha1.Cluster{}
	if ok, err := g.Admit(context.Background(), c); !ok || err != nil || c.Status.BringUp != nil {
		t.Fatalf("nil gate: %v %v %+v", ok, err, c.Status.BringUp)
	}
	g.Done("x")
}

func TestAutoSlots(t *testing.T) {
	for cpus, want := range map[int]int{1: 2, 2: 2, 3: 3, 16: 16} {
		if got := AutoSlots(cpus); got != want {
			t.Errorf("AutoSlots(%d) = %d, want %d", cpus, got, want)
		}
	}
}

func TestOrdinal(t *testing.T) {
	for n, want := range map[int]string{1: "1st", 2: "2nd", 3: "3rd", 4: "4th", 11: "11th", 12: "12th", 13: "13th", 21: "21st", 102: "102nd", 111: "111th"} {
		if got := ordinal(n); got != want {
			t.Errorf("ordinal(%d) = %q, want %q", n, got, want)
		}
	}
}

type fixedMeter struct {
	busy float64
	ok   bool
}

func (m *fixedMeter) Busy() (float64, bool) { return m.busy, m.ok }

// TestMeterHoldsBackASecondBringUp: beyond the first bring-up, the next
// starts only once the last admission has settled and the cores have room;
// the first never waits for the meter.
func TestMeterHoldsBackASecondBringUp(t *testing.T) {
	ns, cs := clusters(t, 3)
	m := &fixedMeter{busy: 0.95, ok: true}
	g := NewGate(Config{Slots: 3, Meter: m, Lister: env.Client(t), Scope: []client.ListOption{client.InNamespace(ns)}})
	clock := time.Now()
	g.now = func() time.Time { return clock }
	if !admit(t, g, cs[0]) {
		t.Fatal("the first bring-up waited for a busy machine")
	}
	m.busy = 0.1
	if admit(t, g, cs[1]) {
		t.Fatal("a second bring-up started before the first settled")
	}
	if r := cs[1].Status.Reason; !strings.Contains(r, "the last just started") {
		t.Errorf("reason %q", r)
	}
	clock = clock.Add(Settle)
	m.busy = 0.95
	if admit(t, g, cs[1]) {
		t.Fatal("a second bring-up started on a machine 95% busy")
	}
	if r := cs[1].Status.Reason; !strings.Contains(r, "95% busy") || !strings.Contains(r, "1st in the cell's queue") {
		t.Errorf("reason %q", r)
	}
	m.busy = 0.5
	if !admit(t, g, cs[1]) {
		t.Fatal("a second bring-up was held back on a machine half idle")
	}
	clock = clock.Add(time.Second)
	if admit(t, g, cs[2]) {
		t.Fatal("a third bring-up started a second after the second")
	}
	// A meter with no figure yet holds back nothing beyond Settle.
	clock, m.ok = clock.Add(Settle), false
	if !admit(t, g, cs[2]) {
		t.Fatal("a third bring-up was held back with no load figure")
	}
}

func TestCPUMeterReadsProcStat(t *testing.T) {
	path := filepath.Join(t.TempDir(), "stat")
	write := func(user, idle int) {
		line := fmt.Sprintf("cpu  %d 0 0 %d 0 0 0 0 0 0\ncpu0 1 2 3 4 5 6 7 8 0 0\nintr 1\n", user, idle)
		if err := os.WriteFile(path, []byte(line), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	m := &CPUMeter{Path: path}
	write(100, 100)
	if err := m.Sample(); err != nil {
		t.Fatal(err)
	}
	if _, ok := m.Busy(); ok {
		t.Fatal("a figure from one sample")
	}
	write(175, 125) // 75 busy of 100
	if err := m.Sample(); err != nil {
		t.Fatal(err)
	}
	if busy, ok := m.Busy(); !ok || busy != 0.75 {
		t.Fatalf("Busy = %v %v, want 0.75", busy, ok)
	}
	if err := os.WriteFile(path, []byte("intr 1\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := m.Sample(); err == nil {
		t.Fatal("no error for a file without a cpu line")
	}
	// The real file parses.
	if err := (&CPUMeter{}).Sample(); err != nil {
		t.Fatal(err)
	}
}
