package cell

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.etcd.io/etcd/api/v3/mvccpb"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/cellplane/cellplane/api/v1alpha1"
	"github.com/cellplane/cellplane/internal/backup"
	"github.com/cellplane/cellplane/internal/backup/envelope"
	"github.com/cellplane/cellplane/internal/components"
	"github.com/cellplane/cellplane/internal/controlplane"
	"github.com/cellplane/cellplane/internal/etcdcare"
)

func testRestoreStorage(t *testing.T) *RestoreStorage {
	t.Helper()
	dir := t.TempDir()
	st := backup.Storage{Dir: filepath.Join(dir, "backups")}
	store, err := st.Open()
	if err != nil {
		t.Fatal(err)
	}
	kms, err := envelope.NewLocalKMS(filepath.Join(dir, "kek"))
	if err != nil {
		t.Fatal(err)
	}
	return &RestoreStorage{Storage: st, Store: store, KMS: kms}
}

// putSet stores a set of cluster src with a full at full and the incrementals
// given as first-last pairs.
func putSet(t *testing.T, rs *RestoreStorage, uid string, full int64, incs ...[2]int64) {
	t.Helper()
	ctx := context.Background()
	ref := backup.Ref{Namespace: v1alpha1.Namespace(v1alpha1.DefaultAccount), Name: v1alpha1.ObjectName("src"), UID: uid}
	set := backup.New(rs.Store, rs.KMS, ref)
	set.TempDir = t.TempDir()
	if _, err := set.PutFull(ctx, func(w io.Writer) (int64, error) {
		_, err := io.WriteString(w, "snapshot")
		return full, err
	}); err != nil {
		t.Fatal(err)
	}
	for _, in := range incs {
		if _, err := set.PutIncremental(ctx, in[0], in[1], time.Now(), []byte("batch")); err != nil {
			t.Fatal(err)
		}
	}
}

func restoring(src v1alpha1.RestoreSource) func(*v1alpha1.Cluster) {
	return func(c *v1alpha1.Cluster) { c.Spec.RestoreFrom = &src }
}

func TestPlanRestore(t *testing.T) {
	rs := testRestoreStorage(t)
	putSet(t, rs, "old-uid", 10)
	putSet(t, rs, "new-uid", 20, [2]int64{21, 25}, [2]int64{26, 30})
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
		{name: "no backups", src: v1alpha1.RestoreSource{Cluster: "other"}, wantErr: "no backup of cluster other in " + rs.Storage.Dir},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r, _, _ := newReconciler(t)
			r.Restore = rs
			job, err := r.planRestore(context.Background(), testCluster(restoring(tc.src)))
			if tc.wantErr != "" {
				if !errors.Is(err, errTerminal) || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("planRestore = %v; want a terminal error mentioning %q", err, tc.wantErr)
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

func TestReconcileRestoreWithoutBackupsFails(t *testing.T) {
	c := testCluster(restoring(v1alpha1.RestoreSource{Cluster: "src"}))
	r, runner, _ := newReconciler(t, c)
	r.Restore = testRestoreStorage(t)
	if _, err := r.Reconcile(context.Background(), request(c)); err != nil {
		t.Fatalf("Reconcile: %v; want no retry", err)
	}
	if ensured, _ := runner.calls(); len(ensured) != 0 {
		t.Errorf("%d processes started for a cluster that cannot be restored", len(ensured))
	}
	stored := get(t, r.Client, c)
	if stored.Status.Status != v1alpha1.StatusFailed || !strings.Contains(stored.Status.Reason, "no backup of cluster src in ") {
		t.Errorf("status = %s %q; want FAILED naming the missing backups", stored.Status.Status, stored.Status.Reason)
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

type fakeReplay struct {
	snapshotRev int64
	batches     []etcdcare.Batch
	err         error
	calls       int
}

func (f *fakeReplay) Replay(_ context.Context, snapshotRev int64, batches []etcdcare.Batch, _ *slog.Logger) (etcdcare.ReplayReport, error) {
	f.calls++
	f.snapshotRev, f.batches = snapshotRev, batches
	return etcdcare.ReplayReport{Applied: len(batches)}, f.err
}

func (f *fakeReplay) Close() error { return nil }

// TestFinishRestore: the replay waits for etcd, stops at the planned revision,
// is retried after a failure and runs once after success.
func TestFinishRestore(t *testing.T) {
	ctx := context.Background()
	rs := testRestoreStorage(t)
	ref := backup.Ref{Namespace: v1alpha1.Namespace(v1alpha1.DefaultAccount), Name: v1alpha1.ObjectName("src"), UID: "u1"}
	set := backup.New(rs.Store, rs.KMS, ref)
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
	c := testCluster(restoring(v1alpha1.RestoreSource{Cluster: "src", Revision: 14}), func(c *v1alpha1.Cluster) { c.Status.Slot = slotPtr(1) })
	r, _, _ := newReconciler(t, c)
	r.Restore = rs
	fake := &fakeReplay{err: errors.New("etcd went away")}
	r.ReplayDialer = func(*controlplane.Plan) (ReplayTarget, error) { return fake, nil }
	p := r.newPlan(c, components.KubernetesBinaries{}, components.EtcdBinaries{})
	dir := restoreDir(p.Dir())
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	job := restoreJob{Source: "src", Prefix: ref.Prefix(), Plan: backup.Plan{Full: backup.Entry{Revision: 10}, Incrementals: incs, Revision: 14}}
	data, _ := json.Marshal(job)
	if err := writeFileSync(dir, restoreJobFile, data); err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.DiscardHandler)

	if msg := r.finishRestore(ctx, log, c, p, false); !strings.Contains(msg, "etcd, to replay") || fake.calls != 0 {
		t.Fatalf("with etcd down: %q after %d replays", msg, fake.calls)
	}
	if msg := r.finishRestore(ctx, log, c, p, true); !strings.Contains(msg, "etcd went away") || markerExists(dir, replayedMarker) {
		t.Fatalf("after a failed replay: %q, marker %v", msg, markerExists(dir, replayedMarker))
	}
	fake.err = nil
	if msg := r.finishRestore(ctx, log, c, p, true); msg != "" {
		t.Fatalf("after a replay: %q", msg)
	}
	if fake.snapshotRev != 10 || len(fake.batches) != 2 || fake.batches[1].Last != 13 || len(fake.batches[1].Events) != 1 {
		t.Fatalf("replayed from %d: %+v; want both batches, the second cut at 14 (after its event at 13)", fake.snapshotRev, fake.batches)
	}
	if cond := meta.FindStatusCondition(c.Status.Conditions, v1alpha1.ConditionRestored); cond == nil || cond.Status != metav1.ConditionTrue {
		t.Fatalf("Restored condition %+v", cond)
	}
	// A pass that read a stale copy without the condition gets it back.
	c.Status.Conditions = nil
	if msg := r.finishRestore(ctx, log, c, p, true); msg != "" || fake.calls != 2 {
		t.Fatalf("after the marker: %q, %d replays; want no more", msg, fake.calls)
	}
	if cond := meta.FindStatusCondition(c.Status.Conditions, v1alpha1.ConditionRestored); cond == nil || cond.Status != metav1.ConditionTrue {
		t.Fatalf("Restored condition after the marker: %+v", cond)
	}
}
