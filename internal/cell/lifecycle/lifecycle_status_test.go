package lifecycle

import (
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	ctrl "sigs.k8s.io/controller-runtime"

	"github.com/cellplane/cellplane/api/v1alpha1"
	"github.com/cellplane/cellplane/internal/cell/tenant"
	"github.com/cellplane/cellplane/internal/controlplane"
	"github.com/cellplane/cellplane/internal/runtime/process"
)

func TestSummarize(t *testing.T) {
	const timeout = time.Minute
	now := time.Now()
	recent := metav1.NewTime(now.Add(-time.Second))
	old := metav1.NewTime(now.Add(-2 * timeout))
	activeAt := metav1.NewTime(now.Add(-time.Hour))
	unhealthy := []string{"etcd-b: unhealthy: connection refused", "endpoint: unhealthy: EOF"}

	for _, tc := range []struct {
		name      string
		status    string
		created   metav1.Time
		unhealthy []string

		wantStatus  string
		wantReason  string // prefix
		wantRequeue time.Duration
		wantReady   metav1.ConditionStatus
	}{
		{
			name: "creating, not ready", status: v1alpha1.StatusCreating, created: recent, unhealthy: unhealthy,
			wantStatus: v1alpha1.StatusCreating, wantReason: "waiting for etcd-b: ", wantRequeue: pollCreating,
			wantReady: metav1.ConditionFalse,
		},
		{
			name: "creating, ready", status: v1alpha1.StatusCreating, created: recent,
			wantStatus: v1alpha1.StatusActive, wantReason: "", wantRequeue: pollActive, wantReady: metav1.ConditionTrue,
		},
		{
			name: "active, healthy", status: v1alpha1.StatusActive, created: old,
			wantStatus: v1alpha1.StatusActive, wantReason: "", wantRequeue: pollActive, wantReady: metav1.ConditionTrue,
		},
		{
			// EKS keeps a running cluster ACTIVE and reports health through issues;
			// the create deadline does not apply to it.
			name: "active, unhealthy", status: v1alpha1.StatusActive, created: old, unhealthy: unhealthy,
			wantStatus: v1alpha1.StatusActive, wantReason: "degraded: etcd-b: ", wantRequeue: 5 * pollCreating,
			wantReady: metav1.ConditionFalse,
		},
		{
			name: "creating past the deadline", status: v1alpha1.StatusCreating, created: old, unhealthy: unhealthy,
			wantStatus: v1alpha1.StatusFailed, wantReason: "the control plane did not become healthy within 1m0s: etcd-b: ",
			wantRequeue: 0, wantReady: metav1.ConditionFalse,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := &Reconciler{Layout: testLayout(t), CreateTimeout: timeout, started: now.Add(-3 * timeout)}
			c := testCluster(t, func(c *v1alpha1.Cluster) {
				c.CreationTimestamp = tc.created
				c.Status.Status = tc.status
				c.Status.Reason = "stale reason"
				if tc.status == v1alpha1.StatusActive {
					c.Status.ActiveAt = activeAt.DeepCopy()
				}
			})
			res := r.summarize(discard, c, tc.unhealthy)
			if c.Status.Status != tc.wantStatus {
				t.Errorf("status = %s, want %s", c.Status.Status, tc.wantStatus)
			}
			if tc.wantReason == "" && c.Status.Reason != "" || !strings.HasPrefix(c.Status.Reason, tc.wantReason) {
				t.Errorf("reason = %q, want prefix %q", c.Status.Reason, tc.wantReason)
			}
			if res != (ctrl.Result{RequeueAfter: tc.wantRequeue}) {
				t.Errorf("result = %+v, want requeue after %s", res, tc.wantRequeue)
			}
			ready := meta.FindStatusCondition(c.Status.Conditions, v1alpha1.ConditionReady)
			if ready == nil || ready.Status != tc.wantReady {
				t.Fatalf("Ready condition = %+v, want %s", ready, tc.wantReady)
			}
			if tc.wantReady == metav1.ConditionFalse && ready.Message == "" {
				t.Error("an unready cluster's Ready condition does not say why")
			}
			for _, u := range tc.unhealthy {
				if tc.wantStatus != v1alpha1.StatusFailed && !strings.Contains(c.Status.Reason, u) {
					t.Errorf("reason %q omits %q", c.Status.Reason, u)
				}
			}
			switch {
			case tc.wantStatus == v1alpha1.StatusActive && tc.status != v1alpha1.StatusActive:
				if c.Status.ActiveAt == nil || c.Status.ActiveAt.Time.Before(now.Add(-time.Second)) {
					t.Errorf("ActiveAt = %v, want the moment it became ACTIVE", c.Status.ActiveAt)
				}
			case tc.status == v1alpha1.StatusActive:
				if c.Status.ActiveAt == nil || !c.Status.ActiveAt.Equal(&activeAt) {
					t.Errorf("ActiveAt moved from %v to %v", activeAt, c.Status.ActiveAt)
				}
			default:
				if c.Status.ActiveAt != nil {
					t.Errorf("ActiveAt = %v on a cluster that never became ACTIVE", c.Status.ActiveAt)
				}
			}
			if tc.wantStatus == v1alpha1.StatusFailed {
				logs := filepath.Join(r.Layout.ClusterDir(c), "logs")
				if !strings.Contains(c.Status.Reason, logs) {
					t.Errorf("FAILED reason %q does not point at the logs in %s", c.Status.Reason, logs)
				}
				if ready.Reason != "CreateFailed" {
					t.Errorf("Ready reason = %s, want CreateFailed", ready.Reason)
				}
			}
		})
	}
}

func TestCreateDeadline(t *testing.T) {
	const timeout = 5 * time.Minute
	t0 := time.Date(2025, 1, 1, 12, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		name             string
		created, started time.Time
		want             time.Time
	}{
		{"created while running", t0.Add(time.Hour), t0, t0.Add(time.Hour + timeout)},
		// Time cellplane was down does not count against the cluster.
		{"created before a restart", t0, t0.Add(time.Hour), t0.Add(time.Hour + timeout)},
		{"same instant", t0, t0, t0.Add(timeout)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := &Reconciler{CreateTimeout: timeout, started: tc.started}
			c := &v1alpha1.Cluster{ObjectMeta: metav1.ObjectMeta{CreationTimestamp: metav1.NewTime(tc.created)}}
			if got := r.createDeadline(c); !got.Equal(tc.want) {
				t.Fatalf("createDeadline = %s, want %s", got, tc.want)
			}
		})
	}
}

func TestSetKindConditions(t *testing.T) {
	p := testPlan(t, 0)
	members := p.AllMembers()
	fail := func(names ...string) []error {
		out := make([]error, len(members))
		for i, m := range members {
			for _, n := range names {
				if m.Name() == n {
					out[i] = errors.New("unhealthy: " + n + " refused")
				}
			}
		}
		return out
	}
	for _, tc := range []struct {
		name     string
		results  []error
		want     map[string]string // condition → message; "" means True
		wantBads []string
	}{
		{
			name:    "all healthy",
			results: fail(),
			want: map[string]string{
				v1alpha1.ConditionEtcdReady: "", v1alpha1.ConditionAPIServersReady: "", v1alpha1.ConditionControllersReady: "",
				controlplane.ConditionKMSPluginsReady: "",
			},
		},
		{
			// A dead KMS plugin is reported on its own: the API servers'
			// probe leaves the KMS check out.
			name:    "one KMS plugin",
			results: fail("kms-plugin-a"),
			want: map[string]string{
				v1alpha1.ConditionEtcdReady: "", v1alpha1.ConditionAPIServersReady: "", v1alpha1.ConditionControllersReady: "",
				controlplane.ConditionKMSPluginsReady: "not healthy: kms-plugin-a",
			},
			wantBads: []string{"kms-plugin-a: unhealthy: kms-plugin-a refused"},
		},
		{
			name:    "one etcd and one scheduler",
			results: fail("etcd-b", "kube-scheduler-a"),
			want: map[string]string{
				v1alpha1.ConditionEtcdReady:           "not healthy: etcd-b",
				v1alpha1.ConditionAPIServersReady:     "",
				v1alpha1.ConditionControllersReady:    "not healthy: kube-scheduler-a",
				controlplane.ConditionKMSPluginsReady: "",
			},
			wantBads: []string{"etcd-b: unhealthy: etcd-b refused", "kube-scheduler-a: unhealthy: kube-scheduler-a refused"},
		},
		{
			// Controller-manager and scheduler share one condition.
			name:    "both controllers of zone a",
			results: fail("kube-controller-manager-a", "kube-scheduler-a"),
			want: map[string]string{
				v1alpha1.ConditionEtcdReady:           "",
				v1alpha1.ConditionAPIServersReady:     "",
				v1alpha1.ConditionControllersReady:    "not healthy: kube-controller-manager-a, kube-scheduler-a",
				controlplane.ConditionKMSPluginsReady: "",
			},
			wantBads: []string{"kube-controller-manager-a: unhealthy: kube-controller-manager-a refused", "kube-scheduler-a: unhealthy: kube-scheduler-a refused"},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := &v1alpha1.Cluster{ObjectMeta: metav1.ObjectMeta{Generation: 7}}
			// A previous failure must be cleared when the kind recovers.
			tenant.SetCondition(c, v1alpha1.ConditionEtcdReady, false, "Unhealthy", "not healthy: etcd-a")
			bad := setKindConditions(c, members, tc.results)
			if strings.Join(bad, "|") != strings.Join(tc.wantBads, "|") {
				t.Errorf("unhealthy = %q, want %q", bad, tc.wantBads)
			}
			if len(c.Status.Conditions) != len(tc.want) {
				t.Errorf("%d conditions, want %d: %+v", len(c.Status.Conditions), len(tc.want), c.Status.Conditions)
			}
			for typ, msg := range tc.want {
				cond := meta.FindStatusCondition(c.Status.Conditions, typ)
				if cond == nil {
					t.Errorf("no %s condition", typ)
					continue
				}
				wantStatus, wantReason := metav1.ConditionTrue, "Healthy"
				if msg != "" {
					wantStatus, wantReason = metav1.ConditionFalse, "Unhealthy"
				}
				if cond.Status != wantStatus || cond.Reason != wantReason || cond.Message != msg || cond.ObservedGeneration != 7 {
					t.Errorf("%s = %+v, want %s/%s %q at generation 7", typ, cond, wantStatus, wantReason, msg)
				}
			}
		})
	}
}

func TestComponentStatuses(t *testing.T) {
	p := testPlan(t, 0)
	members := p.AllMembers()
	runner := &fakeRunner{}
	r := &Reconciler{Runner: runner}
	etcdA := p.Spec(members[0])
	if _, err := runner.Ensure(t.Context(), etcdA); err != nil {
		t.Fatal(err)
	}
	runner.running[etcdA.ID] = process.Status{PID: 4242, Running: true, Restarts: 3}
	apiA := p.Spec(p.Members(controlplane.KindAPIServer)[0])
	runner.running[apiA.ID] = process.Status{PID: 77, Running: false, Restarts: 1} // exited, waiting to restart

	results := make([]error, len(members))
	results[1] = errors.New("unhealthy: refused")
	got := r.componentStatuses(p, members, results)
	if len(got) != len(members) {
		t.Fatalf("%d statuses for %d members", len(got), len(members))
	}
	for i, m := range members {
		s := got[i]
		addr := m.Address()
		if m.Port == 0 { // a KMS plugin: a unix socket, no address to show
			addr = ""
		}
		if s.Name != m.Name() || s.Zone != m.Zone || s.Address != addr || s.Ready != (results[i] == nil) {
			t.Errorf("status %d = %+v for %s", i, s, m.Name())
		}
		if results[i] != nil && s.Message != results[i].Error() {
			t.Errorf("%s message = %q", m.Name(), s.Message)
		}
	}
	if got[0].PID != 4242 || got[0].Restarts != 3 {
		t.Errorf("etcd-a = %+v, want PID 4242 after 3 restarts", got[0])
	}
	for _, s := range got {
		if s.Name == apiA.Name && (s.PID != 0 || s.Restarts != 1) {
			t.Errorf("%s = %+v: a process that is not running has no PID", s.Name, s)
		}
		if s.Name == "etcd-b" && s.PID != 0 {
			t.Errorf("etcd-b = %+v, never started yet has a PID", s)
		}
	}
}

func testPlan(t *testing.T, slot int32) *controlplane.Plan {
	t.Helper()
	c := &v1alpha1.Cluster{ObjectMeta: metav1.ObjectMeta{Namespace: "acct-000000000000", Name: "demo", UID: "uid-demo"},
		Spec: v1alpha1.ClusterSpec{Name: "demo", Version: "1.35"}, Status: v1alpha1.ClusterStatus{Slot: slotPtr(slot)}}
	return testLayout(t).Plan(c, testKube, testEtcd)
}

// setEtcdConditions reports quorum and leadership as etcd care last measured
// them, and nothing before it has.
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
			c := &v1alpha1.Cluster{Status: v1alpha1.ClusterStatus{Etcd: tc.etcd}}
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
