package restore

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/cellplane/cellplane/api/v1alpha1"
	"github.com/cellplane/cellplane/internal/backup"
	"github.com/cellplane/cellplane/internal/cell/etcdstate"
	"github.com/cellplane/cellplane/internal/cell/tenant"
	"github.com/cellplane/cellplane/internal/controlplane"
)

const requestID = "2026-03-01T12:00:00.123456789Z"

func requested(req v1alpha1.RestoreRequest) func(*v1alpha1.Cluster) {
	return func(c *v1alpha1.Cluster) {
		v, _ := json.Marshal(req)
		c.Annotations = map[string]string{v1alpha1.AnnotationRestoreRequested: string(v)}
	}
}

// formed records that p's etcd formed and gives the members of zones their
// data: a write-ahead log segment.
func formed(t *testing.T, p *controlplane.Plan, zones ...string) {
	t.Helper()
	must(t, etcdstate.For(p).MarkBootstrapped())
	for _, m := range p.Members(controlplane.KindEtcd) {
		if slices.Contains(zones, m.Zone) {
			wal := filepath.Join(p.EtcdDataDir(m), "member", "wal")
			must(t, os.MkdirAll(wal, 0o700))
			must(t, os.WriteFile(filepath.Join(wal, "0.wal"), []byte("wal"), 0o600))
		}
	}
}

// An in-place restore starts on an operator's request, or by itself when a
// majority of etcd members lost their data; it saves its job and ends the
// pass, so status.restore shows Restoring before the slow steps. What cannot
// be restored is refused: a request is answered Failed (retrying would fail
// the same way), a lost quorum keeps saying so.
func TestInPlaceStarts(t *testing.T) {
	for _, tc := range []struct {
		name     string
		cluster  []func(*v1alpha1.Cluster)
		disks    []string // zones whose etcd member kept its data; nil: etcd never formed
		backups  bool     // the cluster's own set (full at 100, to 200) and an older one
		noStore  bool     // the cell has no backup storage
		reason   string   // the saved job's; "" wants none
		set      string
		revision int64
		refused  string // what a refusal says, in status.restore or the condition
	}{
		{name: "nothing asked, quorum kept", disks: []string{"a", "b", "c"}, backups: true},
		{name: "one member lost: member replacement's", disks: []string{"a", "b"}, backups: true},
		{name: "etcd never formed", backups: true},
		{name: "requested", cluster: []func(*v1alpha1.Cluster){requested(v1alpha1.RestoreRequest{ID: requestID})},
			disks: []string{"a", "b", "c"}, backups: true, reason: v1alpha1.RestoreReasonRequested, set: "uid-demo", revision: 200},
		{name: "requested from another set, to a revision",
			cluster: []func(*v1alpha1.Cluster){requested(v1alpha1.RestoreRequest{ID: requestID, Set: "uid-old", Revision: 40})},
			disks:   []string{"a", "b", "c"}, backups: true, reason: v1alpha1.RestoreReasonRequested, set: "uid-old", revision: 40},
		{name: "quorum lost", disks: []string{"a"}, backups: true, reason: v1alpha1.RestoreReasonQuorumLost, set: "uid-demo", revision: 200},
		{name: "requested, answered already", cluster: []func(*v1alpha1.Cluster){
			requested(v1alpha1.RestoreRequest{ID: requestID}),
			func(c *v1alpha1.Cluster) {
				c.Status.Restore = &v1alpha1.RestoreStatus{RequestID: requestID, Reason: v1alpha1.RestoreReasonRequested, Phase: v1alpha1.RestorePhaseDone}
			},
		}, disks: []string{"a", "b", "c"}, backups: true},
		{name: "requested, no backups", cluster: []func(*v1alpha1.Cluster){requested(v1alpha1.RestoreRequest{ID: requestID})},
			disks: []string{"a", "b", "c"}, refused: "no full backup in set uid-demo"},
		{name: "requested, revision not covered", cluster: []func(*v1alpha1.Cluster){requested(v1alpha1.RestoreRequest{ID: requestID, Revision: 201})},
			disks: []string{"a", "b", "c"}, backups: true, refused: "backup set uid-demo of cluster demo"},
		{name: "request unreadable", cluster: []func(*v1alpha1.Cluster){func(c *v1alpha1.Cluster) {
			c.Annotations = map[string]string{v1alpha1.AnnotationRestoreRequested: "{not json"}
		}}, disks: []string{"a", "b", "c"}, backups: true, refused: "not JSON"},
		{name: "requested, no backup storage", cluster: []func(*v1alpha1.Cluster){requested(v1alpha1.RestoreRequest{ID: requestID})},
			disks: []string{"a", "b", "c"}, noStore: true, refused: "no backup storage"},
		{name: "quorum lost, no backups", disks: []string{"a"}, refused: "restoring from backup failed"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := testCluster(tc.cluster...)
			p := testPlan(t, c)
			if tc.disks != nil {
				formed(t, p, tc.disks...)
			}
			r := &InPlace{Backups: testBackups(t), Runner: &fakeStopper{}, Logger: discard}
			if tc.backups {
				putSet(t, r.Backups, "demo", "uid-demo", 100, [2]int64{101, 200})
				putSet(t, r.Backups, "demo", "uid-old", 30, [2]int64{31, 50})
			}
			if tc.noStore {
				r.Backups = nil
			}
			before := c.Status.Restore.DeepCopy()
			err := r.Reconcile(context.Background(), c, p)
			job, saved, rerr := etcdstate.For(p).InPlace()
			must(t, rerr)
			switch {
			case tc.reason != "":
				if !errors.Is(err, tenant.ErrReplan) || !saved {
					t.Fatalf("Reconcile = %v, job saved %v; want a job and ErrReplan", err, saved)
				}
				if job.Reason != tc.reason || job.Set != tc.set || job.Plan.Revision != tc.revision || job.StartedAt.IsZero() {
					t.Errorf("job = %+v, want reason %s, set %s, revision %d", job, tc.reason, tc.set, tc.revision)
				}
				if tc.reason == v1alpha1.RestoreReasonRequested && job.RequestID != requestID {
					t.Errorf("job answers request %q, want %q", job.RequestID, requestID)
				}
				if st := c.Status.Restore; st == nil || st.Phase != v1alpha1.RestorePhaseRestoring || st.RequestID != job.RequestID ||
					st.Reason != tc.reason || st.Set != tc.set {
					t.Errorf("status.restore = %+v, want Restoring the job", st)
				}
				if !etcdstate.For(p).InPlaceRunning() {
					t.Error("the saved job does not hold the control plane stopped")
				}
			default:
				if err != nil || saved {
					t.Fatalf("Reconcile = %v, job saved %v; want nothing started", err, saved)
				}
				checkRefusal(t, c, before, tc.refused)
			}
		})
	}
}

// A refused request is answered once: later passes find the answer and leave
// status.restore as it is, even for a request so unreadable that it stays
// pending.
func TestInPlaceRefusesOnce(t *testing.T) {
	for name, annotation := range map[string]string{
		"unreadable": "{not json",
		"no backups": `{"id":"` + requestID + `"}`,
	} {
		t.Run(name, func(t *testing.T) {
			c := testCluster(func(c *v1alpha1.Cluster) {
				c.Annotations = map[string]string{v1alpha1.AnnotationRestoreRequested: annotation}
			})
			p := testPlan(t, c)
			formed(t, p, "a", "b", "c")
			r := &InPlace{Backups: testBackups(t), Runner: &fakeStopper{}, Logger: discard}
			must(t, r.Reconcile(context.Background(), c, p))
			if st := c.Status.Restore; st == nil || st.Phase != v1alpha1.RestorePhaseFailed {
				t.Fatalf("status.restore = %+v after the first pass, want Failed", st)
			}
			// As if the answer had been given an hour ago: answering again
			// would stamp it now.
			hourAgo := metav1.NewTime(time.Now().Add(-time.Hour))
			c.Status.Restore.StartedAt, c.Status.Restore.FinishedAt = &hourAgo, &hourAgo
			first := c.Status.Restore.DeepCopy()
			must(t, r.Reconcile(context.Background(), c, p))
			if !equality.Semantic.DeepEqual(c.Status.Restore, first) {
				t.Errorf("the second pass answered again: %+v, then %+v", first, c.Status.Restore)
			}
		})
	}
}

// checkRefusal checks what a restore that did not start left in c's status:
// nothing when refused is "", else a request answered Failed or a lost
// quorum's condition, saying refused.
func checkRefusal(t *testing.T, c *v1alpha1.Cluster, before *v1alpha1.RestoreStatus, refused string) {
	t.Helper()
	cond := meta.FindStatusCondition(c.Status.Conditions, v1alpha1.ConditionEtcdMembers)
	switch {
	case refused == "":
		if !equalRestore(c.Status.Restore, before) || cond != nil {
			t.Errorf("status.restore %+v, condition %+v; want them untouched", c.Status.Restore, cond)
		}
	case c.Annotations[v1alpha1.AnnotationRestoreRequested] != "":
		st := c.Status.Restore
		if st == nil || st.Phase != v1alpha1.RestorePhaseFailed || st.FinishedAt == nil || !strings.Contains(st.Message, refused) {
			t.Errorf("status.restore = %+v, want the request answered Failed saying %q", st, refused)
		}
	default:
		if cond == nil || cond.Status != metav1.ConditionFalse || cond.Reason != "QuorumLost" || !strings.Contains(cond.Message, refused) {
			t.Errorf("condition %+v, want False QuorumLost saying %q", cond, refused)
		}
	}
}

func equalRestore(a, b *v1alpha1.RestoreStatus) bool {
	if a == nil || b == nil {
		return a == b
	}
	return *a == *b
}

// While the job runs, everything stays stopped until the full is restored,
// then etcd alone runs for the replay. A full that cannot be read leaves the
// members' data as it was and is retried.
func TestInPlaceRun(t *testing.T) {
	for _, tc := range []struct {
		name     string
		restored bool
		stopped  []controlplane.Tier
		err      string
		phase    string
	}{
		{name: "restoring the full", stopped: []controlplane.Tier{controlplane.TierStore, controlplane.TierAPI, controlplane.TierControllers},
			err: "opening full", phase: v1alpha1.RestorePhaseRestoring},
		// etcd does not serve here (no certificates, nothing listening): the
		// pass waits for the processes phase to start it.
		{name: "replaying", restored: true, stopped: []controlplane.Tier{controlplane.TierAPI, controlplane.TierControllers},
			phase: v1alpha1.RestorePhaseReplaying},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := testCluster()
			p := testPlan(t, c)
			formed(t, p, "a")
			rec := etcdstate.For(p)
			// The job names a full that is not in the store.
			job := etcdstate.InPlaceJob{Reason: v1alpha1.RestoreReasonQuorumLost, Set: "uid-demo",
				Prefix: backup.ClusterPrefix(c.Namespace, c.Name) + "uid-demo/", StartedAt: time.Now().UTC().Truncate(time.Second),
				Plan: backup.Plan{Full: backup.Entry{Kind: backup.KindFull, Key: "full-100", Revision: 100}, Revision: 100}}
			must(t, rec.SaveInPlace(job))
			if tc.restored {
				must(t, rec.MarkInPlaceRestored())
			}
			stop := &fakeStopper{}
			r := &InPlace{Backups: testBackups(t), Runner: stop, Logger: discard}
			err := r.Reconcile(context.Background(), c, p)
			if (tc.err == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), tc.err)) {
				t.Fatalf("Reconcile = %v, want %q", err, tc.err)
			}
			tiers := map[controlplane.Tier]bool{}
			for _, s := range stop.stopped {
				for _, m := range p.AllMembers() {
					if p.Spec(m).ID == s.ID {
						tiers[m.Component.Tier()] = true
					}
				}
				if s.StopTimeout != heldStopTimeout {
					t.Errorf("%s stopped with grace %s, want %s", s.ID, s.StopTimeout, heldStopTimeout)
				}
			}
			for _, tier := range []controlplane.Tier{controlplane.TierStore, controlplane.TierAPI, controlplane.TierControllers} {
				if want := slices.Contains(tc.stopped, tier); tiers[tier] != want {
					t.Errorf("tier %d stopped %v, want %v", tier, tiers[tier], want)
				}
			}
			if rec.InPlaceRestored() != tc.restored || rec.InPlaceDone() {
				t.Errorf("restored %v, done %v after the pass", rec.InPlaceRestored(), rec.InPlaceDone())
			}
			if st := c.Status.Restore; st == nil || st.Phase != tc.phase || st.Set != "uid-demo" {
				t.Errorf("status.restore = %+v, want %s", st, tc.phase)
			}
			if tc.err != "" && !strings.Contains(c.Status.Restore.Message, "previous data is untouched") {
				t.Errorf("message %q does not say the data is untouched", c.Status.Restore.Message)
			}
			if cond := meta.FindStatusCondition(c.Status.Conditions, v1alpha1.ConditionEtcdMembers); cond == nil || cond.Reason != "RestoringFromBackup" {
				t.Errorf("condition %+v, want RestoringFromBackup", cond)
			}
			if msg := r.Health(context.Background(), c, p, false); !strings.Contains(msg, "restoring in place") {
				t.Errorf("Health = %q while the restore holds the cluster down", msg)
			}
		})
	}
}

// Once replayed, the restore is reported Done when the API servers serve the
// restored data, not before; its records go only once the store shows that
// report, so a lost status patch is made again.
func TestInPlaceFinish(t *testing.T) {
	c := testCluster()
	p := testPlan(t, c)
	rec := etcdstate.For(p)
	job := etcdstate.InPlaceJob{RequestID: requestID, Reason: v1alpha1.RestoreReasonRequested, Set: "uid-demo",
		Plan: backup.Plan{Full: backup.Entry{Revision: 100}, Revision: 150}, StartedAt: time.Now().UTC().Truncate(time.Second)}
	must(t, rec.SaveInPlace(job))
	must(t, rec.MarkInPlaceRestored())
	must(t, rec.MarkInPlaceDone())
	serving := false
	r := &InPlace{Backups: testBackups(t), Runner: &fakeStopper{}, Logger: discard,
		Serving: func(context.Context, *controlplane.Plan) bool { return serving }}

	must(t, r.Reconcile(context.Background(), c, p))
	if st := c.Status.Restore; st == nil || st.Phase != v1alpha1.RestorePhaseReplaying || !strings.Contains(st.Message, "waiting for the API servers") {
		t.Fatalf("status.restore = %+v before the API servers serve, want Replaying and waiting for them", st)
	}
	serving = true
	must(t, r.Reconcile(context.Background(), c, p))
	st := c.Status.Restore
	if st == nil || st.Phase != v1alpha1.RestorePhaseDone || st.RequestID != requestID || st.FinishedAt == nil ||
		!strings.Contains(st.Message, "incrementals to revision 150") {
		t.Fatalf("status.restore = %+v, want Done answering the request", st)
	}
	if cond := meta.FindStatusCondition(c.Status.Conditions, v1alpha1.ConditionEtcdMembers); cond == nil || cond.Status != metav1.ConditionTrue {
		t.Errorf("condition %+v, want True RestoredFromBackup", cond)
	}
	if _, ok, _ := rec.InPlace(); !ok {
		t.Fatal("the records went before the store showed the restore done")
	}
	if msg := r.Health(context.Background(), c, p, true); msg != "" {
		t.Errorf("Health = %q once done", msg)
	}
	// The next pass reads the report back from the store.
	must(t, r.Reconcile(context.Background(), c, p))
	if _, ok, _ := rec.InPlace(); ok || rec.InPlaceDone() {
		t.Error("the records stay after the store showed the restore done")
	}
}
