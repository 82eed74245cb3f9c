package agent

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/interceptor"

	"github.com/cellplane/cellplane/api/v1alpha1"
	"github.com/cellplane/cellplane/internal/cell/zones"
	"github.com/cellplane/cellplane/internal/poll"
)

// The heartbeat patches cell-1, a cluster-scoped Cell of the region's store,
// and counts every cluster of the cell's store: each test creates the Cell
// it needs and deletes it (and its clusters) when it ends.

// beatTime is whole seconds: metav1.Time keeps no more through a round trip.
var beatTime = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

// patchRecorder counts the status patches the region receives and keeps their bodies.
type patchRecorder struct {
	mu     sync.Mutex
	bodies [][]byte
	n      atomic.Int32
}

func (r *patchRecorder) funcs() interceptor.Funcs {
	return interceptor.Funcs{SubResourcePatch: func(ctx context.Context, cl client.Client, sub string, obj client.Object, p client.Patch, opts ...client.SubResourcePatchOption) error {
		body, err := p.Data(obj)
		if err != nil {
			return err
		}
		r.mu.Lock()
		r.bodies = append(r.bodies, body)
		r.mu.Unlock()
		r.n.Add(1)
		return cl.SubResource(sub).Patch(ctx, obj, p, opts...)
	}}
}

func (r *patchRecorder) last(t *testing.T) []byte {
	t.Helper()
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.bodies) == 0 {
		t.Fatal("no status patch sent")
	}
	return r.bodies[len(r.bodies)-1]
}

// newRegion stores cells in the region with their status, deleted when t
// ends, and returns a client of the region that rec (if any) records.
func newRegion(t *testing.T, rec *patchRecorder, cells ...*v1alpha1.Cell) client.Client {
	t.Helper()
	for _, c := range cells {
		regionEnv(t).CreateWithStatus(t, c)
	}
	if rec == nil {
		return regionEnv(t).Client(t)
	}
	return interceptor.NewClient(regionEnv(t).Client(t), rec.funcs())
}

// regionCell is cell-1 as cellplane up registers it, with a status left over
// from an earlier run.
func regionCell() *v1alpha1.Cell {
	old := metav1.NewTime(beatTime.Add(-time.Hour))
	return &v1alpha1.Cell{
		ObjectMeta: metav1.ObjectMeta{Name: "cell-1"},
		Spec:       v1alpha1.CellSpec{Capacity: 10, Draining: true},
		Status: v1alpha1.CellStatus{HeartbeatTime: &old, Clusters: 9, Store: "https://old:1",
			LoadBalancer: "old:2", PID: 1},
	}
}

func newHeartbeat(region client.Client, cell client.Reader, log *slog.Logger) *Heartbeat {
	return &Heartbeat{
		Region: region, Cell: cell, CellName: "cell-1",
		Store: "https://127.0.0.1:2379", LoadBalancer: "127.0.0.1:8404",
		Logger: log, Now: func() time.Time { return beatTime },
	}
}

func getCell(t *testing.T, cl client.Client) *v1alpha1.Cell {
	t.Helper()
	var c v1alpha1.Cell
	if err := cl.Get(context.Background(), client.ObjectKey{Name: "cell-1"}, &c); err != nil {
		t.Fatalf("reading cell: %v", err)
	}
	return &c
}

func testZoneShifts(t *testing.T) *zones.Shifts {
	t.Helper()
	z, err := zones.Load(filepath.Join(t.TempDir(), "zone-shifts.json"), discard)
	if err != nil {
		t.Fatal(err)
	}
	return z
}

func TestBeatReportsStatus(t *testing.T) {
	ctx := context.Background()
	rec := &patchRecorder{}
	region := newRegion(t, rec, regionCell())
	cellStore := cellEnv(t).Client(t)
	accounts := []string{cellEnv(t).Namespace(t), cellEnv(t).Namespace(t)}
	var clusters []*v1alpha1.Cluster
	for i, ns := range []string{accounts[0], accounts[0], accounts[1]} {
		c := &v1alpha1.Cluster{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: fmt.Sprintf("demo-%d", i)},
			Spec: v1alpha1.ClusterSpec{Name: "demo", Version: "1.35", Cell: "cell-1"}}
		cellEnv(t).Create(t, c)
		cellEnv(t).DeleteOnCleanup(t, c)
		clusters = append(clusters, c)
	}
	h := newHeartbeat(region, cellStore, discard)

	if err := h.Beat(ctx); err != nil {
		t.Fatalf("Beat: %v", err)
	}
	got := getCell(t, region)
	want := v1alpha1.CellStatus{Clusters: 3, Store: h.Store, LoadBalancer: h.LoadBalancer, PID: os.Getpid()}
	if got.Status.HeartbeatTime == nil || !got.Status.HeartbeatTime.Time.Equal(beatTime) {
		t.Errorf("heartbeatTime = %v, want %v", got.Status.HeartbeatTime, beatTime)
	}
	got.Status.HeartbeatTime = nil
	if !equality.Semantic.DeepEqual(got.Status, want) {
		t.Errorf("status = %+v, want %+v", got.Status, want)
	}
	if !equality.Semantic.DeepEqual(got.Spec, regionCell().Spec) {
		t.Errorf("spec = %+v after a beat, want it untouched (%+v)", got.Spec, regionCell().Spec)
	}

	// Every cluster gone: the zero must reach the region, not be left out of the
	// patch (a merge patch keeps what it omits).
	for _, c := range clusters {
		if err := cellStore.Delete(ctx, c); err != nil {
			t.Fatal(err)
		}
	}
	if err := h.Beat(ctx); err != nil {
		t.Fatalf("second Beat: %v", err)
	}
	if got := getCell(t, region); got.Status.Clusters != 0 {
		t.Errorf("clusters = %d after every cluster left, want 0", got.Status.Clusters)
	}
	var body struct {
		Status map[string]json.RawMessage `json:"status"`
	}
	if err := json.Unmarshal(rec.last(t), &body); err != nil {
		t.Fatalf("decoding patch %s: %v", rec.last(t), err)
	}
	if v, ok := body.Status["clusters"]; !ok || string(v) != "0" {
		t.Errorf("patch %s does not send clusters: 0", rec.last(t))
	}
}

func TestBeatUsesWallClockByDefault(t *testing.T) {
	region := newRegion(t, nil, regionCell())
	h := newHeartbeat(region, cellEnv(t).Client(t), discard)
	h.Now = nil
	before := time.Now().Truncate(time.Second)
	if err := h.Beat(context.Background()); err != nil {
		t.Fatalf("Beat: %v", err)
	}
	hb := getCell(t, region).Status.HeartbeatTime
	if hb == nil || hb.Time.Before(before) || hb.After(time.Now()) {
		t.Fatalf("heartbeatTime = %v, want about now (%v)", hb, before)
	}
}

func TestBeatWithoutCell(t *testing.T) {
	h := newHeartbeat(newRegion(t, nil), cellEnv(t).Client(t), discard)
	err := h.Beat(context.Background())
	if err == nil {
		t.Fatal("Beat succeeded on a region without the cell")
	}
	if !strings.Contains(err.Error(), "cellplane up") || !strings.Contains(err.Error(), "cell-1") {
		t.Errorf("error %q does not name the cell and say cellplane up creates it", err)
	}
	if !apierrors.IsNotFound(err) {
		t.Errorf("error %v does not wrap NotFound", err)
	}
}

func TestBeatErrors(t *testing.T) {
	boom := errors.New("boom")
	for _, tc := range []struct {
		name   string
		region interceptor.Funcs
		cell   interceptor.Funcs
		says   string
	}{
		{"cell store fails", interceptor.Funcs{}, interceptor.Funcs{
			List: func(context.Context, client.WithWatch, client.ObjectList, ...client.ListOption) error { return boom },
		}, "counting the cell's clusters"},
		{"region fails", interceptor.Funcs{
			SubResourcePatch: func(context.Context, client.Client, string, client.Object, client.Patch, ...client.SubResourcePatchOption) error {
				return boom
			},
		}, interceptor.Funcs{}, "reporting heartbeat"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			newRegion(t, nil, regionCell())
			region := interceptor.NewClient(regionEnv(t).Client(t), tc.region)
			cellStore := interceptor.NewClient(cellEnv(t).Client(t), tc.cell)
			err := newHeartbeat(region, cellStore, discard).Beat(context.Background())
			if !errors.Is(err, boom) || !strings.Contains(err.Error(), tc.says) {
				t.Fatalf("Beat = %v, want %q wrapping %v", err, tc.says, boom)
			}
		})
	}
}

func TestStartBeatsUntilCancelled(t *testing.T) {
	rec := &patchRecorder{}
	h := newHeartbeat(newRegion(t, rec, regionCell()), cellEnv(t).Client(t), discard)
	h.Interval = 10 * time.Millisecond
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	stopped := make(chan error, 1)
	go func() { stopped <- h.Start(ctx) }()

	waitFor(t, 5*time.Second, "two beats", func() bool { return rec.n.Load() >= 2 })
	cancel()
	select {
	case err := <-stopped:
		if err != nil {
			t.Fatalf("Start = %v after cancel, want nil", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Start still running 5s after its context was cancelled")
	}
}

func TestStartLogsOutageOnce(t *testing.T) {
	var logs syncBuffer
	log := slog.New(slog.NewTextHandler(&logs, nil))
	rec := &patchRecorder{}
	region := newRegion(t, rec) // no cell yet: every beat fails
	h := newHeartbeat(region, cellEnv(t).Client(t), log)
	h.Interval = 5 * time.Millisecond
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	stopped := make(chan error, 1)
	go func() { stopped <- h.Start(ctx) }()

	waitFor(t, 5*time.Second, "three failed beats", func() bool { return rec.n.Load() >= 3 })
	regionEnv(t).Create(t, regionCell())
	waitFor(t, 5*time.Second, "a beat to reach the cell", func() bool {
		var c v1alpha1.Cell
		err := region.Get(context.Background(), client.ObjectKey{Name: "cell-1"}, &c)
		return err == nil && c.Status.HeartbeatTime != nil && c.Status.HeartbeatTime.Time.Equal(beatTime)
	})
	waitFor(t, 5*time.Second, "the recovery to be logged", func() bool {
		return strings.Contains(logs.String(), "reporting to the region again")
	})
	cancel()
	select {
	case err := <-stopped:
		if err != nil {
			t.Fatalf("Start = %v after cancel, want nil", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Start still running 5s after its context was cancelled")
	}
	out := logs.String()
	if n := strings.Count(out, "cannot report to the region"); n != 1 {
		t.Errorf("outage logged %d times, want once:\n%s", n, out)
	}
	if n := strings.Count(out, "reporting to the region again"); n != 1 {
		t.Errorf("recovery logged %d times, want once:\n%s", n, out)
	}
}

// syncBuffer is a bytes.Buffer safe for a logger in one goroutine and a test in another.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// waitFor polls cond until it holds, failing the test after d.
func waitFor(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	err := poll.Until(context.Background(), d, 5*time.Millisecond, func() error {
		if !cond() {
			return errors.New(what + " has not happened")
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestBeatTakesZoneShiftsFromTheRegion(t *testing.T) {
	ctx := context.Background()
	shifted := regionCell()
	shifted.Spec.ZoneShifts = []string{"b"}
	region := newRegion(t, &patchRecorder{}, shifted)
	h := newHeartbeat(region, cellEnv(t).Client(t), discard)
	z := testZoneShifts(t)
	h.Zones = z
	changed := z.Changed()
	if err := h.Beat(ctx); err != nil {
		t.Fatalf("Beat: %v", err)
	}
	if !z.Shifted("b") || z.Shifted("a") {
		t.Fatalf("shifted zones after a beat = %v, want [b]", z.Zones())
	}
	select {
	case <-changed:
	default:
		t.Error("the change was not announced")
	}
	got := getCell(t, region)
	got.Spec.ZoneShifts = nil
	if err := region.Update(ctx, got); err != nil {
		t.Fatal(err)
	}
	if err := h.Beat(ctx); err != nil || z.Shifted("b") {
		t.Errorf("after the shift was undone: %v, %v", z.Zones(), err)
	}
}

type fakeZoneReporter struct {
	mu      sync.Mutex
	faults  []v1alpha1.ZoneFault
	applied int
}

func (f *fakeZoneReporter) Namespaces() bool { return true }
func (f *fakeZoneReporter) Health() []v1alpha1.ZoneHealth {
	return []v1alpha1.ZoneHealth{{Zone: "a", Impaired: true, Reason: "blackholed"}}
}

func (f *fakeZoneReporter) Faults() []v1alpha1.ZoneFault {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.faults)
}

func (f *fakeZoneReporter) SetFaults(fs []v1alpha1.ZoneFault) (bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if slices.Equal(fs, f.faults) {
		return false, nil
	}
	f.faults = slices.Clone(fs)
	f.applied++
	return true, nil
}

// A beat hands the region's faults to the zone network and, when they
// changed, reports them at once with the zones' health.
func TestBeatAppliesAndReportsZoneFaults(t *testing.T) {
	ctx := context.Background()
	faulty := regionCell()
	faulty.Spec.ZoneFaults = []v1alpha1.ZoneFault{{Zone: "a", Kind: v1alpha1.ZoneFaultBlackhole}}
	region := newRegion(t, &patchRecorder{}, faulty)
	h := newHeartbeat(region, cellEnv(t).Client(t), discard)
	zn := &fakeZoneReporter{}
	h.ZoneNet = zn
	if err := h.Beat(ctx); err != nil {
		t.Fatalf("Beat: %v", err)
	}
	got := getCell(t, region).Status
	if zn.applied != 1 || !got.ZoneNamespaces || len(got.Faults) != 1 || got.Faults[0].Kind != v1alpha1.ZoneFaultBlackhole ||
		len(got.Zones) != 1 || !got.Zones[0].Impaired {
		t.Errorf("after one beat: applied %d times, status %+v; want the fault applied once and reported with the zones", zn.applied, got)
	}
	if err := h.Beat(ctx); err != nil || zn.applied != 1 {
		t.Errorf("a second beat: %v, applied %d times; want the unchanged fault left alone", err, zn.applied)
	}
}

// The heartbeat reports at once when a zone becomes impaired, rather than at
// its next tick.
func TestHeartbeatBeatsOnZoneChange(t *testing.T) {
	rec := &patchRecorder{}
	h := newHeartbeat(newRegion(t, rec, regionCell()), cellEnv(t).Client(t), discard)
	h.Interval = time.Hour
	h.Zones = testZoneShifts(t)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = h.Start(ctx) }()
	defer func() { cancel(); <-done }()
	waitFor(t, 5*time.Second, "the first beat", func() bool { return rec.n.Load() >= 1 })
	h.Zones.SetImpaired([]string{"a"})
	waitFor(t, 5*time.Second, "a beat on the zone change", func() bool { return rec.n.Load() >= 2 })
}
