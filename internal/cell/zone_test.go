package cell

import (
	"context"
	"slices"
	"testing"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"
	"k8s.io/utils/ptr"

	"github.com/cellplane/cellplane/api/v1alpha1"
	"github.com/cellplane/cellplane/internal/components"
	"github.com/cellplane/cellplane/internal/controlplane"
)

func testZoneShifts(t *testing.T) *ZoneShifts {
	t.Helper()
	z, err := LoadZoneShifts(t.TempDir()+"/zone-shifts.json", discard)
	if err != nil {
		t.Fatal(err)
	}
	return z
}

// An operator's shift stops a zone's controllers; an impaired zone loses its
// etcd member too; API servers always keep running, drained.
func TestStoppedByShift(t *testing.T) {
	member := func(kind, zone string) controlplane.Member { return controlplane.Member{Kind: kind, Zone: zone} }
	z := testZoneShifts(t)
	if err := z.Set([]string{"a"}); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		m    controlplane.Member
		want bool
	}{
		{member(controlplane.KindControllerManager, "a"), true},
		{member(controlplane.KindScheduler, "a"), true},
		{member(controlplane.KindEtcd, "a"), false},
		{member(controlplane.KindAPIServer, "a"), false},
		{member(controlplane.KindControllerManager, "b"), false},
	} {
		if got := z.stoppedByShift(tc.m); got != tc.want {
			t.Errorf("shifted zone a: %s-%s stopped = %v, want %v", tc.m.Kind, tc.m.Zone, got, tc.want)
		}
	}
	changed := z.Changed()
	z.SetImpaired([]string{"b"})
	select {
	case <-changed:
	default:
		t.Error("an impaired zone was not announced")
	}
	if !z.stoppedByShift(member(controlplane.KindEtcd, "b")) || z.stoppedByShift(member(controlplane.KindAPIServer, "b")) {
		t.Error("impaired zone b: want its etcd member stopped and its API server running")
	}
	if got := z.Zones(); !slices.Equal(got, []string{"a", "b"}) {
		t.Errorf("Zones() = %v, want shifted and impaired together", got)
	}
	if !z.Shifted("b") || !slices.Equal(z.Impaired(), []string{"b"}) {
		t.Errorf("Shifted(b) = %v, Impaired() = %v", z.Shifted("b"), z.Impaired())
	}
}

// With no zone out, the spec's release is planned and the pause condition
// goes; a running release no longer offered cannot be stayed on.
func TestPauseUpgrade(t *testing.T) {
	want, err := components.Lookup(components.Default().Minor)
	if err != nil {
		t.Fatal(err)
	}
	z := testZoneShifts(t)
	r := &ClusterReconciler{Zones: z}
	c := &v1alpha1.Cluster{}
	c.Status.KubernetesVersion = "v1.0.0"
	setCondition(c, v1alpha1.ConditionChangesPaused, true, "ZoneOutOfRotation", "")
	if got := r.pauseUpgrade(c, want); got != want || meta.FindStatusCondition(c.Status.Conditions, v1alpha1.ConditionChangesPaused) != nil {
		t.Errorf("no zone out: planned %v, conditions %v; want %v and no pause", got, c.Status.Conditions, want)
	}
	z.SetImpaired([]string{"a"})
	if got := r.pauseUpgrade(c, want); got != want {
		t.Errorf("zone out, running release not offered: planned %v, want %v", got, want)
	}
	c.Status.KubernetesVersion = want.Version
	if got := r.pauseUpgrade(c, want); got != want || meta.IsStatusConditionTrue(c.Status.Conditions, v1alpha1.ConditionChangesPaused) {
		t.Errorf("zone out, nothing to upgrade: planned %v, conditions %v", got, c.Status.Conditions)
	}
}

// A lease nobody renewed for leaseStaleAfter loses its holder; a fresh one
// or one without a holder is left alone.
func TestReleaseIfStale(t *testing.T) {
	ctx := context.Background()
	lease := func(name, holder string, renewed time.Duration) *coordinationv1.Lease {
		return &coordinationv1.Lease{
			ObjectMeta: metav1.ObjectMeta{Namespace: metav1.NamespaceSystem, Name: name},
			Spec: coordinationv1.LeaseSpec{HolderIdentity: ptr.To(holder),
				RenewTime: &metav1.MicroTime{Time: time.Now().Add(-renewed)}},
		}
	}
	cs := fake.NewClientset(lease("stale", "kcm-a", 10*time.Second), lease("fresh", "kcm-b", time.Second), lease("free", "", time.Minute))
	for _, tc := range []struct{ name, holder string }{{"stale", ""}, {"fresh", "kcm-b"}, {"free", ""}} {
		if _, err := releaseIfStale(ctx, discard, cs, tc.name); err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		l, err := cs.CoordinationV1().Leases(metav1.NamespaceSystem).Get(ctx, tc.name, metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if got := ptr.Deref(l.Spec.HolderIdentity, ""); got != tc.holder {
			t.Errorf("lease %s held by %q, want %q", tc.name, got, tc.holder)
		}
	}
	if _, err := releaseIfStale(ctx, discard, cs, "missing"); err == nil {
		t.Error("a missing lease gave no error")
	}
}

type fakeZoneReporter struct {
	faults  []v1alpha1.ZoneFault
	applied int
}

func (f *fakeZoneReporter) Namespaces() bool { return true }
func (f *fakeZoneReporter) Health() []v1alpha1.ZoneHealth {
	return []v1alpha1.ZoneHealth{{Zone: "a", Impaired: true, Reason: "blackholed"}}
}
func (f *fakeZoneReporter) Faults() []v1alpha1.ZoneFault { return f.faults }
func (f *fakeZoneReporter) SetFaults(fs []v1alpha1.ZoneFault) (bool, error) {
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
	h := newHeartbeat(region, newFakeClient(t), discard)
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
	region := newRegion(t, rec, regionCell())
	h := newHeartbeat(region, newFakeClient(t), discard)
	h.Interval = time.Hour
	h.Zones = testZoneShifts(t)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = h.Start(ctx) }()
	defer func() { cancel(); <-done }()
	waitBeats := func(n int32) {
		t.Helper()
		deadline := time.Now().Add(5 * time.Second)
		for rec.n.Load() < n {
			if time.Now().After(deadline) {
				t.Fatalf("%d beats, want %d", rec.n.Load(), n)
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
	waitBeats(1)
	h.Zones.SetImpaired([]string{"a"})
	waitBeats(2)
}
