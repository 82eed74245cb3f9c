package cell

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	pb "go.etcd.io/etcd/api/v3/etcdserverpb"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/cellplane/cellplane/api/v1alpha1"
	"github.com/cellplane/cellplane/internal/controlplane"
	"github.com/cellplane/cellplane/internal/etcdcare"
)

// fakeEtcd is EtcdOps with scripted answers; it counts the calls.
type fakeEtcd struct {
	mu        sync.Mutex
	cluster   etcdcare.Cluster
	statusErr error
	defrag    etcdcare.Report
	noSpace   etcdcare.NoSpaceReport
	noSpaceFn func() error
	calls     map[string]int
	closed    bool
	movedTo   uint64
}

func (f *fakeEtcd) count(op string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.calls[op]
}

func (f *fakeEtcd) called(op string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.calls == nil {
		f.calls = map[string]int{}
	}
	f.calls[op]++
}

func (f *fakeEtcd) Status(context.Context) (etcdcare.Cluster, error) {
	f.called("status")
	return f.cluster, f.statusErr
}

func (f *fakeEtcd) CompactIfBehind(context.Context, etcdcare.CompactionPolicy, *slog.Logger) (etcdcare.CompactionReport, error) {
	f.called("compact")
	return etcdcare.CompactionReport{}, nil
}

func (f *fakeEtcd) Defragment(context.Context, etcdcare.Policy, *slog.Logger) (etcdcare.Report, error) {
	f.called("defrag")
	for i := range f.cluster.Members {
		f.cluster.Members[i].DBSize = f.cluster.Members[i].DBSizeInUse
	}
	return f.defrag, nil
}

func (f *fakeEtcd) RecoverNoSpace(context.Context, etcdcare.Policy, *slog.Logger) (etcdcare.NoSpaceReport, error) {
	f.called("nospace")
	var err error
	if f.noSpaceFn != nil {
		err = f.noSpaceFn()
	}
	return f.noSpace, err
}

func (f *fakeEtcd) MoveLeader(_ context.Context, _ etcdcare.Cluster, to uint64) error {
	f.called("moveleader")
	f.mu.Lock()
	defer f.mu.Unlock()
	f.movedTo = to
	for i := range f.cluster.Members {
		f.cluster.Members[i].Leader = f.cluster.Members[i].ID == to
		f.cluster.Members[i].LeaderID = to
	}
	f.cluster.LeaderID = to
	return nil
}

func (f *fakeEtcd) Close() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.closed = true
	return nil
}

// healthyEtcd is three healthy members, etcd-a leading, each 10 MiB with 2 in use.
func healthyEtcd() etcdcare.Cluster {
	c := etcdcare.Cluster{LeaderID: 0xa, Quorum: true}
	for i, name := range []string{"etcd-a", "etcd-b", "etcd-c"} {
		c.Members = append(c.Members, etcdcare.Member{
			ID: uint64(0xa + i), Name: name, Leader: i == 0, LeaderID: 0xa,
			DBSize: 10 << 20, DBSizeInUse: 2 << 20, Quota: 32 << 20,
		})
	}
	return c
}

func activeCluster(c *v1alpha1.Cluster) {
	c.Status.Status = v1alpha1.StatusActive
	c.Status.Slot = slotPtr(3)
	c.Status.Endpoint = "https://127.250.128.3:6443"
	c.Status.Conditions = []metav1.Condition{{Type: v1alpha1.ConditionReady, Status: metav1.ConditionTrue, Reason: "Ready", LastTransitionTime: metav1.Now()}}
}

func newEtcdCare(t *testing.T, etcd *fakeEtcd, objs ...client.Object) (*EtcdCareReconciler, *time.Time) {
	t.Helper()
	now := time.Now()
	r := &EtcdCareReconciler{
		Client: newFakeClient(t, objs...), Cell: testCellPlan(t), Dir: t.TempDir(), Logger: slog.New(slog.DiscardHandler),
		Dial:     func(*controlplane.Plan) (EtcdOps, error) { return etcd, nil },
		Defrag:   etcdcare.Policy{MinDBSize: 8 << 20},
		Interval: DefaultEtcdCareInterval, OverQuotaBackoff: DefaultOverQuotaBackoff,
		Now:    func() time.Time { return now },
		states: map[types.NamespacedName]*etcdCareState{},
	}
	return r, &now
}

func reconcileEtcd(t *testing.T, r *EtcdCareReconciler) (ctrl.Result, *v1alpha1.Cluster) {
	t.Helper()
	key := types.NamespacedName{Namespace: v1alpha1.Namespace(v1alpha1.DefaultAccount), Name: "demo"}
	res, err := r.Reconcile(context.Background(), ctrl.Request{NamespacedName: key})
	if err != nil {
		t.Fatal(err)
	}
	c := &v1alpha1.Cluster{}
	if err := r.Client.Get(context.Background(), key, c); err != nil {
		t.Fatal(err)
	}
	return res, c
}

func TestEtcdCareMeasuresAndDefragments(t *testing.T) {
	etcd := &fakeEtcd{cluster: healthyEtcd(), defrag: etcdcare.Report{Steps: []etcdcare.Step{
		{Member: "etcd-b", ID: 0xb, LeaderAtDefrag: 0xa},
		{Member: "etcd-c", ID: 0xc, LeaderAtDefrag: 0xa},
		{Member: "etcd-a", ID: 0xa, LeaderAtDefrag: 0xb, MovedLeaderTo: 0xb},
	}}}
	r, _ := newEtcdCare(t, etcd, testCluster(activeCluster))
	res, c := reconcileEtcd(t, r)
	if res.RequeueAfter != DefaultEtcdCareInterval {
		t.Errorf("requeue after %s, want %s", res.RequeueAfter, DefaultEtcdCareInterval)
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
	_, c = reconcileEtcd(t, r)
	if etcd.count("defrag") != 1 || c.Status.Etcd.Message != "" || c.Status.Etcd.LastDefragmentation == nil {
		t.Errorf("second pass: calls %v, status.etcd %+v", etcd.calls, c.Status.Etcd)
	}
}

func TestEtcdCareLeavesUnhealthyClusterAlone(t *testing.T) {
	cl := healthyEtcd()
	cl.Members[2].Err = errors.New("status: connection refused")
	etcd := &fakeEtcd{cluster: cl}
	r, _ := newEtcdCare(t, etcd, testCluster(activeCluster))
	_, c := reconcileEtcd(t, r)
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
	r, now := newEtcdCare(t, etcd, testCluster(activeCluster))
	_, c := reconcileEtcd(t, r)
	e := c.Status.Etcd
	if len(e.Alarms) != 1 || e.Alarms[0] != "NOSPACE" || !strings.Contains(e.Message, "/registry/configmaps/ (60 keys, 30.0 MiB)") {
		t.Fatalf("status.etcd = %+v", e)
	}
	if etcd.count("defrag") != 0 || e.LastCompaction == nil {
		t.Errorf("calls %v, status %+v", etcd.calls, e)
	}

	*now = now.Add(DefaultOverQuotaBackoff / 2)
	_, c = reconcileEtcd(t, r)
	if n := etcd.count("nospace"); n != 1 {
		t.Errorf("recovery tried %d times within the back-off, want once", n)
	}
	if !strings.Contains(c.Status.Etcd.Message, "delete data") {
		t.Errorf("message lost during the back-off: %q", c.Status.Etcd.Message)
	}

	*now = now.Add(DefaultOverQuotaBackoff)
	etcd.noSpaceFn = func() error {
		etcd.cluster.Alarms = nil
		return nil
	}
	_, c = reconcileEtcd(t, r)
	if etcd.count("nospace") != 2 || len(c.Status.Etcd.Alarms) != 0 || !strings.Contains(c.Status.Etcd.Message, "recovered from NOSPACE") {
		t.Errorf("after the back-off: calls %v, status.etcd %+v", etcd.calls, c.Status.Etcd)
	}
}

func TestEtcdCareConnectsOnlyToActiveClusters(t *testing.T) {
	etcd := &fakeEtcd{cluster: healthyEtcd()}
	creating := testCluster(func(c *v1alpha1.Cluster) { c.Status.Status = v1alpha1.StatusCreating; c.Status.Slot = slotPtr(3) })
	r, _ := newEtcdCare(t, etcd, creating)
	res, c := reconcileEtcd(t, r)
	if etcd.count("status") != 0 || r.connected() != 0 || c.Status.Etcd != nil || res.RequeueAfter != 0 {
		t.Fatalf("a CREATING cluster was looked at: %v", etcd.calls)
	}

	c.Status.Status = v1alpha1.StatusActive
	if err := r.Client.Status().Update(context.Background(), c); err != nil {
		t.Fatal(err)
	}
	reconcileEtcd(t, r)
	if r.connected() != 1 {
		t.Fatal("no client for the ACTIVE cluster")
	}
	if err := r.Client.Delete(context.Background(), c); err != nil {
		t.Fatal(err)
	}
	key := client.ObjectKeyFromObject(c)
	if _, err := r.Reconcile(context.Background(), ctrl.Request{NamespacedName: key}); err != nil {
		t.Fatal(err)
	}
	if r.connected() != 0 || !etcd.closed {
		t.Error("the deleted cluster's etcd client stays open")
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

func TestSetEtcdConditions(t *testing.T) {
	seen := metav1.Now()
	for name, tc := range map[string]struct {
		etcd           *v1alpha1.EtcdStatus
		quorum, leader metav1.ConditionStatus
	}{
		"not measured": {nil, "", ""},
		"healthy":      {&v1alpha1.EtcdStatus{Quorum: true, Leader: "etcd-a", ObservedAt: &seen}, metav1.ConditionTrue, metav1.ConditionTrue},
		"no quorum": {&v1alpha1.EtcdStatus{ObservedAt: &seen, Members: []v1alpha1.EtcdMember{{Name: "etcd-a", Error: "down"}}},
			metav1.ConditionFalse, metav1.ConditionFalse},
	} {
		t.Run(name, func(t *testing.T) {
			c := testCluster(func(c *v1alpha1.Cluster) { c.Status.Etcd = tc.etcd })
			setEtcdConditions(c)
			for typ, want := range map[string]metav1.ConditionStatus{v1alpha1.ConditionEtcdQuorum: tc.quorum, v1alpha1.ConditionEtcdLeader: tc.leader} {
				got := meta.FindStatusCondition(c.Status.Conditions, typ)
				switch {
				case want == "" && got != nil:
					t.Errorf("%s set without status.etcd: %+v", typ, got)
				case want != "" && (got == nil || got.Status != want):
					t.Errorf("%s = %+v, want %s", typ, got, want)
				}
			}
		})
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
	r, _ := newEtcdCare(t, etcd, testCluster(activeCluster, func(c *v1alpha1.Cluster) {
		c.Status.Etcd = &v1alpha1.EtcdStatus{Message: defragInProgress + "etcd-b, etcd-c, etcd-a"}
	}))
	_, c := reconcileEtcd(t, r)
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
	r, _ := newEtcdCare(t, etcd, testCluster(activeCluster))
	zones, err := LoadZoneShifts(filepath.Join(t.TempDir(), "zone-shifts.json"), slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	r.Zones = zones
	if _, c := reconcileEtcd(t, r); etcd.count("moveleader") != 0 || c.Status.Etcd.Leader != "etcd-a" {
		t.Fatalf("without a shift: calls %v, leader %s", etcd.calls, c.Status.Etcd.Leader)
	}
	if err := zones.Set([]string{"a"}); err != nil {
		t.Fatal(err)
	}
	_, c := reconcileEtcd(t, r)
	if etcd.count("moveleader") != 1 || etcd.movedTo != 0xc || c.Status.Etcd.Leader != "etcd-c" {
		t.Fatalf("with zone a shifted: calls %v, moved to %x, leader %s", etcd.calls, etcd.movedTo, c.Status.Etcd.Leader)
	}
	if !strings.Contains(c.Status.Etcd.Message, "zone a is shifted out") {
		t.Errorf("message %q", c.Status.Etcd.Message)
	}
	if reconcileEtcd(t, r); etcd.count("moveleader") != 1 {
		t.Errorf("moved again with the leader already outside the zone: %v", etcd.calls)
	}
	// Saved: a cell restarted without the region keeps the shift.
	again, err := LoadZoneShifts(zones.path, slog.New(slog.DiscardHandler))
	if err != nil || !again.Shifted("a") || again.Shifted("b") {
		t.Errorf("reloaded shifts %v, %v", again.Zones(), err)
	}
}
