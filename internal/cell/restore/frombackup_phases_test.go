package restore

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"go.etcd.io/etcd/api/v3/mvccpb"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/cellplane/cellplane/api/v1alpha1"
	"github.com/cellplane/cellplane/internal/backup"
	"github.com/cellplane/cellplane/internal/cell/etcdstate"
	"github.com/cellplane/cellplane/internal/cell/tenant"
	"github.com/cellplane/cellplane/internal/controlplane"
	"github.com/cellplane/cellplane/internal/etcdcare"
)

func TestPlanRestore(t *testing.T) {
	b := testBackups(t)
	putSet(t, b, "src", "old-uid", 10)
	putSet(t, b, "src", "new-uid", 20, [2]int64{21, 25}, [2]int64{26, 30})
	for _, tc := range []struct {
		name    string
		src     v1alpha1.RestoreSource
		set     string
		rev     int64
		incs    int
		wantErr string
	}{
		{name: "newest set, newest revision", src: v1alpha1.RestoreSource{Cluster: "src"}, set: "new-uid", rev: 30, incs: 2},
		{name: "a revision", src: v1alpha1.RestoreSource{Cluster: "src", Revision: 23}, set: "new-uid", rev: 23, incs: 1},
		{name: "a set", src: v1alpha1.RestoreSource{Cluster: "src", Set: "old-uid"}, set: "old-uid", rev: 10},
		{name: "revision before every full", src: v1alpha1.RestoreSource{Cluster: "src", Revision: 5}, wantErr: "no full backup"},
		{name: "revision not covered yet", src: v1alpha1.RestoreSource{Cluster: "src", Revision: 31}, wantErr: "gap"},
		{name: "unknown set", src: v1alpha1.RestoreSource{Cluster: "src", Set: "nosuch"}, wantErr: "no backup set nosuch of cluster src in "},
		{name: "no backups", src: v1alpha1.RestoreSource{Cluster: "other"}, wantErr: "no backup of cluster other in " + b.Storage.Dir},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := &FromBackup{Backups: b, Logger: discard}
			job, err := r.plan(context.Background(), testCluster(restoring(tc.src)))
			if tc.wantErr != "" {
				if !errors.Is(err, tenant.ErrTerminal) || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("plan = %v; want a terminal error mentioning %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !strings.HasSuffix(job.Prefix, "/"+tc.set+"/") || job.Plan.Revision != tc.rev || len(job.Plan.Incrementals) != tc.incs {
				t.Fatalf("job = %+v; want set %s, revision %d, %d incrementals", job, tc.set, tc.rev, tc.incs)
			}
		})
	}
}

// A cell without backup storage cannot restore: the cluster fails at once
// rather than waiting for storage that never comes.
func TestPlanRestoreWithoutStorage(t *testing.T) {
	r := &FromBackup{Logger: discard}
	_, err := r.plan(context.Background(), testCluster(restoring(v1alpha1.RestoreSource{Cluster: "src"})))
	if !errors.Is(err, tenant.ErrTerminal) || !strings.Contains(err.Error(), "no backup storage") {
		t.Fatalf("plan = %v; want a terminal error saying there is no backup storage", err)
	}
}

// A cluster that cannot be restored fails with the reason, in its
// Restored condition and status.restore, and no restore records.
func TestFromBackupReconcileWithoutBackups(t *testing.T) {
	c := testCluster(restoring(v1alpha1.RestoreSource{Cluster: "src"}))
	p := testPlan(t, c)
	r := &FromBackup{Backups: testBackups(t), Logger: discard}
	err := r.Reconcile(context.Background(), c, p)
	if !errors.Is(err, tenant.ErrTerminal) || !strings.Contains(err.Error(), "no backup of cluster src in ") {
		t.Fatalf("Reconcile = %v; want a terminal error naming the missing backups", err)
	}
	if cond := meta.FindStatusCondition(c.Status.Conditions, v1alpha1.ConditionRestored); cond == nil || cond.Status != metav1.ConditionFalse {
		t.Errorf("Restored condition %+v, want False", cond)
	}
	if st := c.Status.Restore; st == nil || st.Reason != v1alpha1.RestoreReasonCreated || st.Phase != v1alpha1.RestorePhaseFailed ||
		st.FinishedAt == nil || !strings.Contains(st.Message, "no backup of cluster src") {
		t.Errorf("status.restore = %+v, want Failed with the reason", st)
	}
	if _, ok, _ := etcdstate.For(p).Restore(); ok {
		t.Error("a job was saved for a restore that cannot run")
	}
}

// A cluster created empty is none of FromBackup's business.
func TestFromBackupIgnoresEmptyClusters(t *testing.T) {
	c := testCluster()
	p := testPlan(t, c)
	r := &FromBackup{Backups: testBackups(t), Logger: discard}
	if err := r.Reconcile(context.Background(), c, p); err != nil {
		t.Fatal(err)
	}
	if msg := r.Health(context.Background(), c, p, true); msg != "" || c.Status.Restore != nil || len(c.Status.Conditions) != 0 {
		t.Fatalf("Health = %q, status %+v", msg, c.Status)
	}
}

func TestTruncateBatch(t *testing.T) {
	ev := func(rev int64) *mvccpb.Event {
		return &mvccpb.Event{Kv: &mvccpb.KeyValue{Key: []byte("k"), ModRevision: rev}}
	}
	b := etcdcareBatch(ev(5), ev(5), ev(6), ev(8))
	for _, tc := range []struct {
		to          int64
		first, last int64
		n           int
	}{
		{to: 10, first: 5, last: 8, n: 4},
		{to: 8, first: 5, last: 8, n: 4},
		{to: 7, first: 5, last: 6, n: 3},
		{to: 5, first: 5, last: 5, n: 2},
		{to: 4, n: 0},
	} {
		got := truncateBatch(b, tc.to)
		if got.First != tc.first || got.Last != tc.last || len(got.Events) != tc.n {
			t.Errorf("truncateBatch(to %d) = %d..%d with %d events; want %d..%d with %d", tc.to, got.First, got.Last, len(got.Events), tc.first, tc.last, tc.n)
		}
	}
}

func etcdcareBatch(evs ...*mvccpb.Event) etcdcare.Batch {
	return etcdcare.Batch{First: evs[0].Kv.ModRevision, Last: evs[len(evs)-1].Kv.ModRevision, Events: evs}
}

// TestFinishRestore: the replay waits for etcd, stops at the planned revision,
// is retried after a failure and runs once after success.
func TestFinishRestore(t *testing.T) {
	ctx := context.Background()
	b := testBackups(t)
	ref := backup.Ref{Namespace: v1alpha1.Namespace(v1alpha1.DefaultAccount), Name: v1alpha1.ObjectName("src"), UID: "u1"}
	set := backup.New(b.Store, b.KMS, ref)
	set.TempDir = t.TempDir()
	var incs []backup.Entry
	for _, revs := range [][]int64{{11, 12}, {13, 15}} {
		var evs []*mvccpb.Event
		for _, rev := range revs {
			evs = append(evs, &mvccpb.Event{Kv: &mvccpb.KeyValue{Key: []byte("k"), Value: []byte("v"), ModRevision: rev}})
		}
		data, err := etcdcareBatch(evs...).MarshalBinary()
		if err != nil {
			t.Fatal(err)
		}
		e, err := set.PutIncremental(ctx, revs[0], revs[len(revs)-1], time.Now(), data)
		if err != nil {
			t.Fatal(err)
		}
		incs = append(incs, e)
	}
	c := testCluster(restoring(v1alpha1.RestoreSource{Cluster: "src", Revision: 14}))
	p := testPlan(t, c)
	fake := &fakeReplay{err: errors.New("etcd went away")}
	r := &FromBackup{Backups: b, Logger: discard, Dial: func(*controlplane.Plan) (ReplayTarget, error) { return fake, nil }}
	rec := etcdstate.For(p)
	job := etcdstate.RestoreJob{Source: "src", Prefix: ref.Prefix(), Plan: backup.Plan{Full: backup.Entry{Revision: 10}, Incrementals: incs, Revision: 14}}
	must(t, rec.SaveRestore(job))

	if msg := r.Health(ctx, c, p, false); !strings.Contains(msg, "etcd, to replay") || fake.calls != 0 {
		t.Fatalf("with etcd down: %q after %d replays", msg, fake.calls)
	}
	if msg := r.Health(ctx, c, p, true); !strings.Contains(msg, "etcd went away") || rec.Replayed() {
		t.Fatalf("after a failed replay: %q, marker %v", msg, rec.Replayed())
	}
	if st := c.Status.Restore; st == nil || st.Phase != v1alpha1.RestorePhaseReplaying || !strings.Contains(st.Message, "etcd went away") {
		t.Errorf("status.restore after a failed replay = %+v, want Replaying with the error", st)
	}
	fake.err = nil
	if msg := r.Health(ctx, c, p, true); msg != "" {
		t.Fatalf("after a replay: %q", msg)
	}
	if fake.snapshotRev != 10 || len(fake.batches) != 2 || fake.batches[1].Last != 13 || len(fake.batches[1].Events) != 1 {
		t.Fatalf("replayed from %d: %+v; want both batches, the second cut at 14 (after its event at 13)", fake.snapshotRev, fake.batches)
	}
	if cond := meta.FindStatusCondition(c.Status.Conditions, v1alpha1.ConditionRestored); cond == nil || cond.Status != metav1.ConditionTrue {
		t.Fatalf("Restored condition %+v", cond)
	}
	st := c.Status.Restore
	if st == nil || st.Reason != v1alpha1.RestoreReasonCreated || st.Phase != v1alpha1.RestorePhaseDone || st.Set != "u1" ||
		st.FullRevision != 10 || st.Revision != 14 || st.FinishedAt == nil {
		t.Fatalf("status.restore = %+v, want Done from set u1, full 10 to 14", st)
	}
	finished := st.FinishedAt
	// A pass that read a stale copy without the condition gets it back.
	c.Status.Conditions = nil
	if msg := r.Health(ctx, c, p, true); msg != "" || fake.calls != 2 {
		t.Fatalf("after the marker: %q, %d replays; want no more", msg, fake.calls)
	}
	if cond := meta.FindStatusCondition(c.Status.Conditions, v1alpha1.ConditionRestored); cond == nil || cond.Status != metav1.ConditionTrue {
		t.Fatalf("Restored condition after the marker: %+v", cond)
	}
	// The restore ended once: later passes report the same end.
	if got := c.Status.Restore.FinishedAt; got == nil || !got.Equal(finished) {
		t.Errorf("finishedAt moved from %v to %v", finished, got)
	}
}
