package placement

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/cellplane/cellplane/api/v1alpha1"
	"github.com/cellplane/cellplane/internal/errdefs"
	"github.com/cellplane/cellplane/internal/store/storetest"
)

// now is the fixed clock of every test: heartbeats are set relative to it.
var now = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

var env storetest.Env

func TestMain(m *testing.M) { storetest.Main(m, &env) }

// testStore is a region on the real management store: Cells, cluster-scoped,
// deleted again when the test ends; Clusters in a namespace of the test's own
// and in a tally, as the region cache's events keep it.
type testStore struct {
	client.Client
	tally *Tally
	ns    string
}

func (s *testStore) Create(ctx context.Context, obj client.Object, opts ...client.CreateOption) error {
	if err := s.Client.Create(ctx, obj, opts...); err != nil {
		return err
	}
	s.tally.Set(obj)
	return nil
}

func (s *testStore) Delete(ctx context.Context, obj client.Object, opts ...client.DeleteOption) error {
	if err := s.Client.Delete(ctx, obj, opts...); err != nil {
		return err
	}
	s.tally.Remove(client.ObjectKeyFromObject(obj))
	return nil
}

// newReader returns a region holding cells. Each cell is created and then
// given its status (the heartbeat), as the cell's heartbeat writes it: the
// store ignores the status of a create.
func newReader(t *testing.T, cells ...*v1alpha1.Cell) *testStore {
	t.Helper()
	s := &testStore{Client: env.Client(t), tally: NewTally(), ns: env.Namespace(t)}
	for _, c := range cells {
		env.CreateWithStatus(t, c)
	}
	return s
}

// newRegion returns a region holding cells and, in each, as many clusters as
// used says.
func newRegion(t *testing.T, cells []*v1alpha1.Cell, used map[string]int) *testStore {
	t.Helper()
	r := newReader(t, cells...)
	for _, c := range cells {
		for i := range used[c.Name] {
			r.add(t, r.cluster(fmt.Sprintf("%s-%d", c.Name, i), c.Name))
		}
	}
	return r
}

// add stores clusters.
func (s *testStore) add(t *testing.T, clusters ...*v1alpha1.Cluster) {
	t.Helper()
	for _, c := range clusters {
		if err := s.Create(context.Background(), c); err != nil {
			t.Fatal(err)
		}
	}
}

// cluster is a cluster in the test's namespace.
func (s *testStore) cluster(name, cellName string) *v1alpha1.Cluster {
	c := cluster(name, cellName)
	c.Namespace = s.ns
	return c
}

// cell is a cell that beat age ago; a negative age means it never did.
func cell(name string, capacity int32, age time.Duration, mods ...func(*v1alpha1.Cell)) *v1alpha1.Cell {
	c := &v1alpha1.Cell{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec:       v1alpha1.CellSpec{Capacity: capacity},
	}
	if age >= 0 {
		c.Status.HeartbeatTime = &metav1.Time{Time: now.Add(-age)}
	}
	for _, m := range mods {
		m(c)
	}
	return c
}

func draining(c *v1alpha1.Cell) { c.Spec.Draining = true }

func cluster(name, cellName string) *v1alpha1.Cluster {
	return &v1alpha1.Cluster{
		ObjectMeta: metav1.ObjectMeta{Namespace: "acct-1", Name: name},
		Spec:       v1alpha1.ClusterSpec{Name: name, Version: "1.35", Cell: cellName},
	}
}

func newPlacer(r *testStore) *Placer {
	return &Placer{Cells: r, Tally: r.tally, StaleAfter: DefaultStaleAfter, Now: func() time.Time { return now }}
}

func TestTally(t *testing.T) {
	tl := NewTally()
	tl.Set(cluster("a", "cell-1"))
	tl.Set(cluster("b", "cell-1"))
	tl.Set(cluster("a", "cell-1")) // an update that changes nothing
	tl.Set(cell("cell-1", 1, 0))   // not a cluster: ignored
	if got := tl.Placed("cell-1"); got != 2 {
		t.Fatalf("cell-1 has %d, want 2", got)
	}
	tl.Set(cluster("b", "cell-2")) // moved (by hand): counted where it is now
	tl.Remove(client.ObjectKey{Namespace: "acct-1", Name: "a"})
	tl.Remove(client.ObjectKey{Namespace: "acct-1", Name: "never"})
	if a, b := tl.Placed("cell-1"), tl.Placed("cell-2"); a != 0 || b != 1 {
		t.Fatalf("after move and remove: cell-1 %d, cell-2 %d; want 0 and 1", a, b)
	}
	if tl.Has(client.ObjectKey{Namespace: "acct-1", Name: "a"}) || !tl.Has(client.ObjectKey{Namespace: "acct-1", Name: "b"}) {
		t.Fatal("Has disagrees with what was set and removed")
	}
}

// A placement the tally already shows is not also counted as pending: with
// exactly enough room, every create fits (the benchmark found this at 10,000).
func TestPlaceDoesNotCountStoredPendingTwice(t *testing.T) {
	ctx := context.Background()
	r := newReader(t, cell("a", 2, 0))
	p := newPlacer(r)
	got, done, err := p.Place(ctx, r.cluster("one", ""))
	if err != nil {
		t.Fatal(err)
	}
	defer done()
	// Stored and seen by the tally, but done not called yet.
	if err := r.Create(ctx, r.cluster("one", got)); err != nil {
		t.Fatal(err)
	}
	if _, done2, err := p.Place(ctx, r.cluster("two", "")); err != nil {
		t.Fatalf("second Place with one of two slots used = %v", err)
	} else {
		done2()
	}
}

func TestJudge(t *testing.T) {
	const stale = 15 * time.Second
	for _, tc := range []struct {
		name   string
		cell   *v1alpha1.Cell
		placed int
		want   State
		free   int
		says   string
	}{
		{"never reported", cell("c", 10, -1), 0, Unreachable, 10, "never reported"},
		{"never reported beats draining and full", cell("c", 1, -1, draining), 5, Unreachable, 0, "never reported"},
		{"stale", cell("c", 10, stale+time.Second), 0, Unreachable, 10, "unreachable (last heartbeat 16s ago)"},
		{"stale beats draining and full", cell("c", 1, time.Minute, draining), 1, Unreachable, 0, "unreachable"},
		{"exactly stale is still fresh", cell("c", 10, stale), 0, Available, 10, "room for 10"},
		{"heartbeat from the future", cell("c", 10, -time.Hour-1, func(c *v1alpha1.Cell) {
			c.Status.HeartbeatTime = &metav1.Time{Time: now.Add(time.Hour)}
		}), 0, Available, 10, "room for 10"},
		{"draining beats full", cell("c", 1, 0, draining), 3, Draining, 0, "draining"},
		{"draining with room", cell("c", 10, 0, draining), 0, Draining, 10, "draining"},
		{"full", cell("c", 2, time.Second), 2, Full, 0, "full (2 of 2)"},
		{"over capacity", cell("c", 2, 0), 5, Full, 0, "full (5 of 2)"},
		{"no capacity", cell("c", 0, 0), 0, Full, 0, "full (0 of 0)"},
		{"available", cell("c", 10, time.Second), 3, Available, 7, "room for 7"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			v := Judge(tc.cell, tc.placed, now, stale)
			if v.State != tc.want {
				t.Errorf("State = %s, want %s", v.State, tc.want)
			}
			if v.Free() != tc.free {
				t.Errorf("Free = %d, want %d", v.Free(), tc.free)
			}
			if v.Name != "c" || v.Placed != tc.placed || v.Capacity != int(tc.cell.Spec.Capacity) || v.Cell != tc.cell {
				t.Errorf("View = %+v, want it to carry the cell's name, capacity and placed count", v)
			}
			if d := v.Describe(); !strings.HasPrefix(d, "c ") || !strings.Contains(d, tc.says) {
				t.Errorf("Describe = %q, want the name and %q", d, tc.says)
			}
		})
	}
}

func TestJudgeAge(t *testing.T) {
	if v := Judge(cell("c", 1, -1), 0, now, time.Second); v.Age >= 0 {
		t.Errorf("Age of a cell that never reported = %s, want negative", v.Age)
	}
	if v := Judge(cell("c", 1, 5*time.Second), 0, now, time.Minute); v.Age != 5*time.Second {
		t.Errorf("Age = %s, want 5s", v.Age)
	}
}

func TestPlacePicksMostFree(t *testing.T) {
	for _, tc := range []struct {
		name  string
		cells []*v1alpha1.Cell
		used  map[string]int
		want  string
	}{
		{"most free", []*v1alpha1.Cell{cell("a", 10, 0), cell("b", 10, 0), cell("c", 10, 0)},
			map[string]int{"a": 3, "b": 1, "c": 2}, "b"},
		{"capacity counts, not load", []*v1alpha1.Cell{cell("a", 5, 0), cell("b", 20, 0)},
			map[string]int{"a": 0, "b": 10}, "b"},
		{"tie goes to first by name", []*v1alpha1.Cell{cell("c", 4, 0), cell("b", 4, 0), cell("a", 5, 0)},
			map[string]int{"a": 2}, "b"},
		{"skips draining", []*v1alpha1.Cell{cell("a", 100, 0, draining), cell("b", 2, 0)}, nil, "b"},
		{"skips full", []*v1alpha1.Cell{cell("a", 2, 0), cell("b", 1, 0)}, map[string]int{"a": 2}, "b"},
		{"skips stale", []*v1alpha1.Cell{cell("a", 100, time.Minute), cell("b", 1, 0)}, nil, "b"},
		{"skips never reported", []*v1alpha1.Cell{cell("a", 100, -1), cell("b", 1, 0)}, nil, "b"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := newRegion(t, tc.cells, tc.used)
			got, done, err := newPlacer(r).Place(context.Background(), r.cluster("new", ""))
			if err != nil {
				t.Fatalf("Place: %v", err)
			}
			done()
			if got != tc.want {
				t.Fatalf("Place chose %q, want %q", got, tc.want)
			}
		})
	}
}

func TestPlaceErrors(t *testing.T) {
	for _, tc := range []struct {
		name  string
		cells []*v1alpha1.Cell
		used  map[string]int
		want  error
		says  []string
	}{
		{"no cells", nil, nil, errdefs.ErrUnavailable, []string{"no cells"}},
		{"full and draining", []*v1alpha1.Cell{cell("a", 1, 0), cell("b", 5, 0, draining), cell("c", 0, 0)},
			map[string]int{"a": 1}, errdefs.ErrLimitExceeded,
			[]string{"a is full (1 of 1)", "b is draining", "c is full (0 of 0)"}},
		{"unreachable and full", []*v1alpha1.Cell{cell("a", 1, 0), cell("b", 5, time.Minute)},
			map[string]int{"a": 1}, errdefs.ErrUnavailable,
			[]string{"a is full (1 of 1)", "b is unreachable (last heartbeat 1m0s ago)"}},
		{"only unreachable", []*v1alpha1.Cell{cell("a", 5, -1), cell("b", 5, time.Hour)}, nil,
			errdefs.ErrUnavailable, []string{"a has never reported", "b is unreachable"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := newRegion(t, tc.cells, tc.used)
			got, done, err := newPlacer(r).Place(context.Background(), r.cluster("new", ""))
			if !errors.Is(err, tc.want) {
				t.Fatalf("Place = %q, %v; want an error wrapping %v", got, err, tc.want)
			}
			if got != "" || done != nil {
				t.Errorf("failed Place returned cell %q and done %v", got, done != nil)
			}
			for _, s := range tc.says {
				if !strings.Contains(err.Error(), s) {
					t.Errorf("error %q does not say %q", err, s)
				}
			}
		})
	}
}

func TestPlaceCountsPending(t *testing.T) {
	ctx := context.Background()
	r := newReader(t, cell("a", 1, 0))
	p := newPlacer(r)

	first, done, err := p.Place(ctx, r.cluster("one", ""))
	if err != nil || first != "a" {
		t.Fatalf("first Place = %q, %v; want a", first, err)
	}
	// The first cluster is not stored yet: only its pending count fills the cell.
	if got, _, err := p.Place(ctx, r.cluster("two", "")); !errors.Is(err, errdefs.ErrLimitExceeded) {
		t.Fatalf("second Place = %q, %v; want the cell full by the pending placement", got, err)
	}
	views, err := p.Views(ctx)
	if err != nil || len(views) != 1 || views[0].Placed != 1 {
		t.Fatalf("Views = %+v, %v; want a with 1 placed (pending)", views, err)
	}

	// Stored and visible: the count now comes from the store.
	if err := r.Create(ctx, r.cluster("one", first)); err != nil {
		t.Fatal(err)
	}
	done()
	done() // a second call must not release another placement
	views, err = p.Views(ctx)
	if err != nil || len(views) != 1 || views[0].Placed != 1 || views[0].State != Full {
		t.Fatalf("Views after done = %+v, %v; want a full with 1 placed", views, err)
	}
	if got, _, err := p.Place(ctx, r.cluster("two", "")); !errors.Is(err, errdefs.ErrLimitExceeded) {
		t.Fatalf("Place after done = %q, %v; want the cell full by the stored cluster", got, err)
	}

	// Deleted again, the cluster leaves room.
	if err := r.Delete(ctx, r.cluster("one", first)); err != nil {
		t.Fatal(err)
	}
	second, done2, err := p.Place(ctx, r.cluster("two", ""))
	if err != nil || second != "a" {
		t.Fatalf("Place with room again = %q, %v; want a", second, err)
	}
	done() // the first placement's done, called late, must not release the second
	if got, _, err := p.Place(ctx, r.cluster("three", "")); !errors.Is(err, errdefs.ErrLimitExceeded) {
		t.Fatalf("Place = %q, %v; want the cell full by the second, pending placement", got, err)
	}
	// The second create failed: its placement is released without a stored cluster.
	done2()
	third, done3, err := p.Place(ctx, r.cluster("three", ""))
	if err != nil || third != "a" {
		t.Fatalf("Place after the second create failed = %q, %v; want a", third, err)
	}
	done3()
}

func TestPlaceDoneTwiceDecrementsOnce(t *testing.T) {
	ctx := context.Background()
	r := newReader(t, cell("a", 2, 0))
	p := newPlacer(r)
	_, done1, err := p.Place(ctx, r.cluster("one", ""))
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := p.Place(ctx, r.cluster("two", "")); err != nil {
		t.Fatal(err)
	}
	done1()
	done1()
	// Had done1 released twice, the second placement would no longer count.
	views, err := p.Views(ctx)
	if err != nil || views[0].Placed != 1 {
		t.Fatalf("Views = %+v, %v; want 1 pending after one done called twice", views, err)
	}
	if _, _, err := p.Place(ctx, r.cluster("three", "")); err != nil {
		t.Fatalf("third Place: %v", err)
	}
	if _, _, err := p.Place(ctx, r.cluster("four", "")); !errors.Is(err, errdefs.ErrLimitExceeded) {
		t.Fatalf("fourth Place = %v, want the cell full", err)
	}
}

func TestPlaceConcurrent(t *testing.T) {
	const n = 40
	capacity := map[string]int32{"a": 3, "b": 5, "c": 1}
	var cells []*v1alpha1.Cell
	total := 0
	for name, c := range capacity {
		cells = append(cells, cell(name, c, 0))
		total += int(c)
	}
	r := newReader(t, cells...)
	// One cluster already stored in b counts against it too.
	r.add(t, r.cluster("old", "b"))
	total--
	p := newPlacer(r)

	var (
		wg     sync.WaitGroup
		mu     sync.Mutex
		placed = map[string]int{}
		errs   []error
	)
	start := make(chan struct{})
	for i := range n {
		wg.Go(func() {
			<-start
			got, _, err := p.Place(context.Background(), r.cluster(fmt.Sprintf("c%d", i), ""))
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				errs = append(errs, err)
				return
			}
			placed[got]++
		})
	}
	close(start)
	waitGroup(t, &wg, 10*time.Second)

	ok := 0
	for name, k := range placed {
		ok += k
		room := int(capacity[name])
		if name == "b" {
			room--
		}
		if k > room {
			t.Errorf("%d clusters placed in %s, which had room for %d", k, name, room)
		}
	}
	if ok != total {
		t.Errorf("%d placements succeeded, want %d (%v)", ok, total, placed)
	}
	if len(errs) != n-total {
		t.Errorf("%d placements failed, want %d", len(errs), n-total)
	}
	for _, err := range errs {
		if !errors.Is(err, errdefs.ErrLimitExceeded) {
			t.Errorf("failed placement: %v, want ErrLimitExceeded", err)
		}
	}
}

func TestPlacerDefaults(t *testing.T) {
	// Zero StaleAfter means DefaultStaleAfter; nil Now means the wall clock.
	fresh := &v1alpha1.Cell{ObjectMeta: metav1.ObjectMeta{Name: "a"}, Spec: v1alpha1.CellSpec{Capacity: 1},
		Status: v1alpha1.CellStatus{HeartbeatTime: &metav1.Time{Time: time.Now().Add(-DefaultStaleAfter / 2)}}}
	stale := &v1alpha1.Cell{ObjectMeta: metav1.ObjectMeta{Name: "b"}, Spec: v1alpha1.CellSpec{Capacity: 1},
		Status: v1alpha1.CellStatus{HeartbeatTime: &metav1.Time{Time: time.Now().Add(-2 * DefaultStaleAfter)}}}
	r := newReader(t, fresh, stale)
	p := &Placer{Cells: r, Tally: r.tally}
	views, err := p.Views(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(views) != 2 || views[0].State != Available || views[1].State != Unreachable {
		t.Fatalf("Views = %+v, want a Available and b Unreachable", views)
	}
}

func TestViewsSortedByName(t *testing.T) {
	r := newReader(t, cell("b", 1, 0), cell("c", 1, 0), cell("a", 1, 0))
	r.add(t, r.cluster("x", "c"))
	p := newPlacer(r)
	views, err := p.Views(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, v := range views {
		names = append(names, fmt.Sprintf("%s=%d", v.Name, v.Placed))
	}
	if got := strings.Join(names, " "); got != "a=0 b=0 c=1" {
		t.Fatalf("Views = %s, want a=0 b=0 c=1", got)
	}
}

// waitGroup waits for wg, failing the test after d.
func waitGroup(t *testing.T, wg *sync.WaitGroup, d time.Duration) {
	t.Helper()
	ch := make(chan struct{})
	go func() {
		wg.Wait()
		close(ch)
	}()
	select {
	case <-ch:
	case <-time.After(d):
		t.Fatalf("goroutines still running after %s", d)
	}
}
