package care

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"
	"time"

	pb "go.etcd.io/etcd/api/v3/etcdserverpb"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	ctrl "sigs.k8s.io/controller-runtime"

	"github.com/cellplane/cellplane/api/v1alpha1"
	"github.com/cellplane/cellplane/internal/cell/zones"
	"github.com/cellplane/cellplane/internal/etcdcare"
)

func TestEtcdCareMeasuresAndDefragments(t *testing.T) {
	etcd := &fakeEtcd{cluster: healthyEtcd(), defrag: etcdcare.Report{Steps: []etcdcare.Step{
		{Member: "etcd-b", ID: 0xb, LeaderAtDefrag: 0xa},
		{Member: "etcd-c", ID: 0xc, LeaderAtDefrag: 0xa},
		{Member: "etcd-a", ID: 0xa, LeaderAtDefrag: 0xb, MovedLeaderTo: 0xb},
	}}}
	f := newEtcdCare(t, etcd, testCluster(t, activeCluster))
	res, c := f.reconcile(t)
	if res.RequeueAfter != DefaultInterval {
		t.Errorf("requeue after %s, want %s", res.RequeueAfter, DefaultInterval)
	}
	if etcd.count("compact") != 1 || etcd.count("defrag") != 1 || etcd.count("nospace") != 0 {
		t.Errorf("calls = %v, want one compaction and one defragmentation", etcd.calls)
	}
	e := c.Status.Etcd
	if e == nil || !e.Quorum || e.Leader != "etcd-a" || e.QuotaBytes != 32<<20 || len(e.Members) != 3 ||
		e.LastDefragmentation == nil || e.ObservedAt == nil {
		t.Fatalf("status.etcd = %+v", e)
	}
	if m := e.Members[1]; m.Name != "etcd-b" || m.Zone != "b" || m.ID != "b" || !m.Healthy || m.DBSizeBytes != 2<<20 {
		t.Errorf("member after defragmentation = %+v (the status is measured again after it)", m)
	}
	if !strings.Contains(e.Message, "etcd-a (after moving leadership to etcd-b)") {
		t.Errorf("message = %q", e.Message)
	}
	if c.Status.Status != v1alpha1.StatusActive || len(c.Status.Conditions) != 1 || c.Status.Endpoint == "" {
		t.Errorf("etcd care touched status it does not own: %+v", c.Status)
	}

	// Nothing left to defragment: no second defragmentation, and the message clears.
	_, c = f.reconcile(t)
	if etcd.count("defrag") != 1 || c.Status.Etcd.Message != "" || c.Status.Etcd.LastDefragmentation == nil {
		t.Errorf("second pass: calls %v, status.etcd %+v", etcd.calls, c.Status.Etcd)
	}
}

func TestEtcdCareLeavesUnhealthyClusterAlone(t *testing.T) {
	cl := healthyEtcd()
	cl.Members[2].Err = errors.New("status: connection refused")
	etcd := &fakeEtcd{cluster: cl}
	f := newEtcdCare(t, etcd, testCluster(t, activeCluster))
	_, c := f.reconcile(t)
	if etcd.count("defrag") != 0 || etcd.count("compact") != 0 {
		t.Errorf("repaired an unhealthy cluster: %v", etcd.calls)
	}
	if e := c.Status.Etcd; e.Members[2].Healthy || !strings.Contains(e.Message, "etcd-c: status: connection refused") {
		t.Errorf("status.etcd = %+v", e)
	}
}

func TestEtcdCareNoSpaceOverQuotaBacksOff(t *testing.T) {
	cl := healthyEtcd()
	cl.Alarms = []etcdcare.Alarm{{MemberID: 0xb, Type: pb.AlarmType_NOSPACE}}
	etcd := &fakeEtcd{cluster: cl, noSpace: etcdcare.NoSpaceReport{Alarmed: true, CompactedTo: 42}}
	etcd.noSpaceFn = func() error {
		return &etcdcare.OverQuotaError{LiveBytes: 31 << 20, Quota: 32 << 20,
			Top: []etcdcare.PrefixUsage{{Prefix: "/registry/configmaps/", Keys: 60, Bytes: 30 << 20}}}
	}
	f := newEtcdCare(t, etcd, testCluster(t, activeCluster))
	_, c := f.reconcile(t)
	e := c.Status.Etcd
	if len(e.Alarms) != 1 || e.Alarms[0] != "NOSPACE" || !strings.Contains(e.Message, "/registry/configmaps/ (60 keys, 30.0 MiB)") {
		t.Fatalf("status.etcd = %+v", e)
	}
	if etcd.count("defrag") != 0 || e.LastCompaction == nil {
		t.Errorf("calls %v, status %+v", etcd.calls, e)
	}

	*f.now = f.now.Add(DefaultOverQuotaBackoff / 2)
	_, c = f.reconcile(t)
	if n := etcd.count("nospace"); n != 1 {
		t.Errorf("recovery tried %d times within the back-off, want once", n)
	}
	if !strings.Contains(c.Status.Etcd.Message, "delete data") {
		t.Errorf("message lost during the back-off: %q", c.Status.Etcd.Message)
	}

	*f.now = f.now.Add(DefaultOverQuotaBackoff)
	etcd.noSpaceFn = func() error {
		etcd.cluster.Alarms = nil
		return nil
	}
	_, c = f.reconcile(t)
	if etcd.count("nospace") != 2 || len(c.Status.Etcd.Alarms) != 0 || !strings.Contains(c.Status.Etcd.Message, "recovered from NOSPACE") {
		t.Errorf("after the back-off: calls %v, status.etcd %+v", etcd.calls, c.Status.Etcd)
	}
}

// Care looks only at ACTIVE clusters, keeps one connection per cluster
// between passes, and forgets a deleted cluster. The connection itself is
// the cell's (etcdconn.Pool, whose tests show it closed on Release): care
// asks for it and never closes it, which Etcd, without Close, enforces.
func TestEtcdCareConnectsOnlyToActiveClusters(t *testing.T) {
	ctx := context.Background()
	etcd := &fakeEtcd{cluster: healthyEtcd()}
	creating := testCluster(t, func(c *v1alpha1.Cluster) { c.Status.Status = v1alpha1.StatusCreating; c.Status.Slot = slotPtr(3) })
	f := newEtcdCare(t, etcd, creating)
	res, c := f.reconcile(t)
	if etcd.count("status") != 0 || f.dials != 0 || f.r.cared() != 0 || c.Status.Etcd != nil || res.RequeueAfter != 0 {
		t.Fatalf("a CREATING cluster was looked at: %v, %d dials", etcd.calls, f.dials)
	}

	c.Status.Status = v1alpha1.StatusActive
	if err := f.r.Client.Status().Update(ctx, c); err != nil {
		t.Fatal(err)
	}
	f.reconcile(t)
	if f.r.cared() != 1 || f.dials != 1 {
		t.Fatalf("no client for the ACTIVE cluster: cared for %d, %d dials", f.r.cared(), f.dials)
	}
	f.reconcile(t)
	if f.dials != 1 {
		t.Errorf("%d dials after a second pass, want the first connection kept", f.dials)
	}
	if err := f.r.Client.Delete(ctx, c); err != nil {
		t.Fatal(err)
	}
	if _, err := f.r.Reconcile(ctx, ctrl.Request{NamespacedName: f.key}); err != nil {
		t.Fatal(err)
	}
	if f.r.cared() != 0 {
		t.Error("care still keeps the deleted cluster's connection")
	}

	// The name now belongs to a new cluster (a new UID): a new etcd.
	again := testCluster(t, activeCluster)
	again.Namespace = f.key.Namespace
	env.CreateWithStatus(t, again)
	f.reconcile(t)
	if f.dials != 2 || f.r.cared() != 1 {
		t.Errorf("recreated cluster: %d dials, cared for %d; want a connection of its own", f.dials, f.r.cared())
	}
}

func TestEtcdStatusPatch(t *testing.T) {
	b, err := etcdStatusPatch(&v1alpha1.EtcdStatus{Quorum: true, Leader: "etcd-a"})
	if err != nil {
		t.Fatal(err)
	}
	var p struct{ Status map[string]map[string]any }
	if err := json.Unmarshal(b, &p); err != nil {
		t.Fatal(err)
	}
	if len(p.Status) != 1 {
		t.Errorf("patch touches %d status fields, want only etcd: %s", len(p.Status), b)
	}
	e := p.Status["etcd"]
	for _, cleared := range []string{"alarms", "message", "members", "lastDefragmentation"} {
		if v, ok := e[cleared]; !ok || v != nil {
			t.Errorf("patch must clear %s with null: %s", cleared, b)
		}
	}
	if e["leader"] != "etcd-a" || e["quorum"] != true {
		t.Errorf("patch = %s", b)
	}
}

func TestEtcdStatusChanged(t *testing.T) {
	now := time.Now()
	seen := metav1.NewTime(now.Add(-time.Second))
	prev := &v1alpha1.EtcdStatus{Quorum: true, ObservedAt: &seen}
	same := prev.DeepCopy()
	same.ObservedAt = &metav1.Time{Time: now}
	if etcdStatusChanged(prev, same, now) {
		t.Error("an unchanged, fresh status is written again")
	}
	if !etcdStatusChanged(prev, same, now.Add(statusRefresh)) {
		t.Error("an unchanged status is never refreshed")
	}
	changed := same.DeepCopy()
	changed.Alarms = []string{"NOSPACE"}
	if !etcdStatusChanged(prev, changed, now) {
		t.Error("a new alarm is not written")
	}
}

// A cell killed in the middle of a defragmentation pass left its "in
// progress" report behind; etcd finished the member it was on. The next
// process finds nothing due and records the end instead of leaving it unsaid.
func TestEtcdCareRecordsDefragmentationInterruptedByKill(t *testing.T) {
	done := healthyEtcd()
	for i := range done.Members {
		done.Members[i].DBSize = 2 << 20 // below the policy's 8 MiB: nothing due
	}
	etcd := &fakeEtcd{cluster: done}
	f := newEtcdCare(t, etcd, testCluster(t, activeCluster, func(c *v1alpha1.Cluster) {
		c.Status.Etcd = &v1alpha1.EtcdStatus{Message: defragInProgress + "etcd-b, etcd-c, etcd-a"}
	}))
	_, c := f.reconcile(t)
	if etcd.count("defrag") != 0 {
		t.Errorf("calls = %v, want no defragmentation", etcd.calls)
	}
	if e := c.Status.Etcd; e.LastDefragmentation == nil || strings.HasPrefix(e.Message, defragInProgress) {
		t.Errorf("status.etcd = %+v, want the interrupted pass recorded as finished", e)
	}
}

func TestEtcdCareMovesLeaderOutOfShiftedZone(t *testing.T) {
	etcd := &fakeEtcd{cluster: healthyEtcd()} // etcd-a leads
	for i := range etcd.cluster.Members {
		etcd.cluster.Members[i].DBSize = 2 << 20 // nothing to defragment
	}
	etcd.cluster.Members[2].RaftAppliedIndex = 9 // etcd-c is the most caught up
	f := newEtcdCare(t, etcd, testCluster(t, activeCluster))
	path := filepath.Join(t.TempDir(), "zone-shifts.json")
	shifts, err := zones.Load(path, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	f.r.Zones = shifts
	if _, c := f.reconcile(t); etcd.count("moveleader") != 0 || c.Status.Etcd.Leader != "etcd-a" {
		t.Fatalf("without a shift: calls %v, leader %s", etcd.calls, c.Status.Etcd.Leader)
	}
	if err := shifts.Set([]string{"a"}); err != nil {
		t.Fatal(err)
	}
	_, c := f.reconcile(t)
	if etcd.count("moveleader") != 1 || etcd.movedTo != 0xc || c.Status.Etcd.Leader != "etcd-c" {
		t.Fatalf("with zone a shifted: calls %v, moved to %x, leader %s", etcd.calls, etcd.movedTo, c.Status.Etcd.Leader)
	}
	if !strings.Contains(c.Status.Etcd.Message, "zone a is shifted out") {
		t.Errorf("message %q", c.Status.Etcd.Message)
	}
	if f.reconcile(t); etcd.count("moveleader") != 1 {
		t.Errorf("moved again with the leader already outside the zone: %v", etcd.calls)
	}
	// Saved: a cell restarted without the region keeps the shift.
	again, err := zones.Load(path, slog.New(slog.DiscardHandler))
	if err != nil || !again.Shifted("a") || again.Shifted("b") {
		t.Errorf("reloaded shifts %v, %v", again.Zones(), err)
	}
}
