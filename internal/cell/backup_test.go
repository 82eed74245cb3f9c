package cell

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"go.etcd.io/etcd/api/v3/mvccpb"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/cellplane/cellplane/api/v1alpha1"
	"github.com/cellplane/cellplane/internal/backup"
	"github.com/cellplane/cellplane/internal/backup/envelope"
	"github.com/cellplane/cellplane/internal/backup/objstore"
	"github.com/cellplane/cellplane/internal/controlplane"
	"github.com/cellplane/cellplane/internal/etcdcare"
)

// fakeBackupSource is an etcd that gets one write per tail tick.
type fakeBackupSource struct {
	mu        sync.Mutex
	rev       int64
	snapshots int
	tails     int
	compactAt int64 // Tail from below this fails once with ErrSnapshotRequired
}

func (f *fakeBackupSource) Snapshot(_ context.Context, w io.Writer) (int64, error) {
	f.mu.Lock()
	f.snapshots++
	rev := f.rev
	f.mu.Unlock()
	_, err := fmt.Fprintf(w, "snapshot at %d", rev)
	return rev, err
}

func (f *fakeBackupSource) Tail(ctx context.Context, from int64, every time.Duration, flush func(context.Context, etcdcare.Batch) error) error {
	f.mu.Lock()
	f.tails++
	if from < f.compactAt {
		f.compactAt = 0
		f.rev += 5
		f.mu.Unlock()
		return fmt.Errorf("tailing: %w", etcdcare.ErrSnapshotRequired)
	}
	f.mu.Unlock()
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		}
		f.mu.Lock()
		f.rev++
		rev := f.rev
		f.mu.Unlock()
		ev := &mvccpb.Event{Type: mvccpb.PUT, Kv: &mvccpb.KeyValue{Key: []byte("/k"), Value: []byte("v"), ModRevision: rev}}
		if rev <= from {
			continue
		}
		if err := flush(ctx, etcdcare.Batch{First: from + 1, Last: rev, Events: []*mvccpb.Event{ev}}); err != nil {
			return err
		}
		from = rev
	}
}

func (f *fakeBackupSource) Revision(context.Context) (int64, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.rev, nil
}

func (f *fakeBackupSource) Close() error { return nil }

func (f *fakeBackupSource) snapshotCount() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.snapshots
}

type backupHarness struct {
	runner *BackupRunner
	client client.Client
	src    *fakeBackupSource
	store  objstore.Store
	kms    envelope.KMS
	cancel context.CancelFunc
	done   chan struct{}
}

func backupActive(c *v1alpha1.Cluster) {
	c.Status.Status, c.Status.Slot = v1alpha1.StatusActive, slotPtr(0)
}

func startBackups(t *testing.T, src *fakeBackupSource, objs ...client.Object) *backupHarness {
	return startBackupsWith(t, src, BackupConfig{}, objs...)
}

func startBackupsWith(t *testing.T, src *fakeBackupSource, cfg BackupConfig, objs ...client.Object) *backupHarness {
	t.Helper()
	dir := t.TempDir()
	store, err := objstore.NewDir(filepath.Join(dir, "backups"))
	if err != nil {
		t.Fatal(err)
	}
	kms, err := envelope.NewLocalKMS(filepath.Join(dir, "kek"))
	if err != nil {
		t.Fatal(err)
	}
	h := &backupHarness{client: newFakeClient(t, objs...), src: src, store: store, kms: kms, done: make(chan struct{})}
	h.runner = &BackupRunner{
		Client: h.client, Cell: testCellPlan(t), Dir: dir, Storage: backup.Storage{Dir: store.Root()}, Store: store, KMS: kms,
		SpoolDir: t.TempDir(), Dial: func(*controlplane.Plan) (BackupSource, error) { return src, nil },
		Config: BackupConfig{FlushInterval: 20 * time.Millisecond, StatusInterval: 10 * time.Millisecond, FullInterval: cfg.FullInterval},
		Logger: slog.New(slog.DiscardHandler),
	}
	ctx, cancel := context.WithCancel(context.Background())
	h.cancel = cancel
	go func() { defer close(h.done); _ = h.runner.Start(ctx) }()
	t.Cleanup(h.stop)
	return h
}

func (h *backupHarness) stop() {
	h.cancel()
	<-h.done
}

func (h *backupHarness) waitStatus(t *testing.T, what string, ok func(*v1alpha1.BackupStatus) bool) *v1alpha1.BackupStatus {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		c := &v1alpha1.Cluster{}
		key := types.NamespacedName{Namespace: v1alpha1.Namespace(v1alpha1.DefaultAccount), Name: "demo"}
		if err := h.client.Get(context.Background(), key, c); err == nil && c.Status.Backup != nil && ok(c.Status.Backup) {
			return c.Status.Backup
		}
		if time.Now().After(deadline) {
			t.Fatalf("waiting for %s: status %+v", what, c.Status.Backup)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (h *backupHarness) catalog(t *testing.T) backup.Catalog {
	t.Helper()
	set := backup.New(h.store, h.kms, backup.Ref{Namespace: v1alpha1.Namespace(v1alpha1.DefaultAccount), Name: "demo", UID: "uid-demo"})
	c, err := set.List(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestBackupRunnerFullThenIncrementals(t *testing.T) {
	h := startBackups(t, &fakeBackupSource{rev: 10}, testCluster(backupActive))
	st := h.waitStatus(t, "a full and incrementals", func(b *v1alpha1.BackupStatus) bool {
		return b.LastFullTime != nil && b.Revision >= b.LastFullRevision+3 && b.RecoveryPointTime != nil
	})
	if st.LastFullRevision != 10 || st.Fulls != 1 || st.LastFullBytes == 0 || st.Location == "" || st.LastError != "" {
		t.Fatalf("status = %+v", st)
	}
	c := h.catalog(t)
	p, err := c.Latest()
	if err != nil || p.Full.Revision != 10 || len(p.Incrementals) < 3 || p.Revision < st.Revision {
		t.Fatalf("latest plan = %+v, %v (status revision %d)", p, err, st.Revision)
	}
}

func TestBackupRunnerResumesWithoutNewFull(t *testing.T) {
	src := &fakeBackupSource{rev: 10}
	h := startBackups(t, src, testCluster(backupActive))
	h.waitStatus(t, "incrementals", func(b *v1alpha1.BackupStatus) bool { return b.Revision >= 13 })
	h.stop()
	// A new runner (a restarted cell) on the same storage continues the chain.
	h2 := &BackupRunner{}
	*h2 = *h.runner
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = h2.Start(ctx) }()
	defer func() { cancel(); <-done }()
	src.mu.Lock() // the new runner's worker may be tailing already
	last := src.rev
	src.mu.Unlock()
	h.waitStatus(t, "more incrementals", func(b *v1alpha1.BackupStatus) bool { return b.Revision >= last+3 })
	if n := src.snapshotCount(); n != 1 {
		t.Fatalf("%d snapshots, want 1", n)
	}
	if _, err := h.catalog(t).Latest(); err != nil {
		t.Fatal(err)
	}
}

func TestBackupRunnerTakesFullWhenChainBreaks(t *testing.T) {
	src := &fakeBackupSource{rev: 10, compactAt: 11}
	h := startBackups(t, src, testCluster(backupActive))
	st := h.waitStatus(t, "a second full", func(b *v1alpha1.BackupStatus) bool {
		return b.LastFullRevision == 15 && b.Revision > 15
	})
	if st.Fulls != 2 {
		t.Fatalf("status = %+v", st)
	}
}

func TestBackupRunnerHonoursRequest(t *testing.T) {
	h := startBackups(t, &fakeBackupSource{rev: 10}, testCluster(backupActive))
	first := h.waitStatus(t, "a full", func(b *v1alpha1.BackupStatus) bool { return b.LastFullTime != nil })
	req := time.Now().UTC()
	c := testCluster()
	patch, _ := json.Marshal(map[string]any{"metadata": map[string]any{"annotations": map[string]string{v1alpha1.AnnotationBackupRequested: req.Format(time.RFC3339Nano)}}})
	if err := h.client.Patch(context.Background(), c, client.RawPatch(types.MergePatchType, patch)); err != nil {
		t.Fatal(err)
	}
	st := h.waitStatus(t, "the requested full", func(b *v1alpha1.BackupStatus) bool { return b.LastFullTime.After(req) })
	if st.LastFullRevision <= first.LastFullRevision {
		t.Fatalf("requested full at %d, first at %d", st.LastFullRevision, first.LastFullRevision)
	}
}

func TestBackupRunnerStopsOnDeletionAndKeepsBackups(t *testing.T) {
	src := &fakeBackupSource{rev: 10}
	cl := testCluster(backupActive, func(c *v1alpha1.Cluster) { c.Finalizers = []string{v1alpha1.CellFinalizer} })
	h := startBackups(t, src, cl)
	h.waitStatus(t, "incrementals", func(b *v1alpha1.BackupStatus) bool { return b.Revision >= 12 })
	if err := h.client.Delete(context.Background(), testCluster()); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		src.mu.Lock()
		before := src.rev
		src.mu.Unlock()
		time.Sleep(200 * time.Millisecond)
		src.mu.Lock()
		after := src.rev
		src.mu.Unlock()
		if before == after {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("worker still tailing after deletion")
		}
	}
	if c := h.catalog(t); len(c.Fulls) != 1 || len(c.Incrementals) == 0 {
		t.Fatalf("backups after deletion: %+v", c)
	}
}

func TestBackupStatusPatchTouchesOnlyBackup(t *testing.T) {
	data, err := backupStatusPatch(v1alpha1.BackupStatus{Location: "/x", Revision: 5})
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]map[string]map[string]any
	if err := json.Unmarshal(data, &m); err != nil {
		t.Fatal(err)
	}
	if len(m) != 1 || len(m["status"]) != 1 {
		t.Fatalf("patch = %s", data)
	}
	if v, ok := m["status"]["backup"]["lastError"]; !ok || v != nil {
		t.Fatalf("patch does not clear lastError: %s", data)
	}
}

func TestWantBackups(t *testing.T) {
	for _, tc := range []struct {
		status  string
		slot    bool
		running bool
		want    bool
	}{
		{v1alpha1.StatusCreating, true, false, false},
		{v1alpha1.StatusActive, true, false, true},
		{v1alpha1.StatusActive, false, false, false},
		{v1alpha1.StatusUpdating, true, true, true},
		{v1alpha1.StatusUpdating, true, false, false},
		{v1alpha1.StatusDeleting, true, true, false},
		{v1alpha1.StatusFailed, true, true, false},
	} {
		c := testCluster(func(c *v1alpha1.Cluster) {
			c.Status.Status = tc.status
			if tc.slot {
				c.Status.Slot = slotPtr(0)
			}
		})
		if got := wantBackups(c, tc.running); got != tc.want {
			t.Errorf("wantBackups(%s, slot %v, running %v) = %v", tc.status, tc.slot, tc.running, got)
		}
	}
}

func TestAgentCopiesBackupRequestOnly(t *testing.T) {
	reg := regionCluster(func(c *v1alpha1.Cluster) {
		c.Annotations = map[string]string{v1alpha1.AnnotationBackupRequested: "2026-01-02T03:04:05Z", "other": "x"}
	})
	a := newAgent(t, []client.Object{reg}, nil)
	reconcileAgent(t, a, reg)
	got := get(t, a.Cell, reg)
	if got.Annotations[v1alpha1.AnnotationBackupRequested] != "2026-01-02T03:04:05Z" || got.Annotations["other"] != "" {
		t.Fatalf("cell copy annotations = %v", got.Annotations)
	}
	upd := get(t, a.Region.GetClient(), reg)
	upd.Annotations = nil
	if err := a.Region.GetClient().Update(context.Background(), upd); err != nil {
		t.Fatal(err)
	}
	reconcileAgent(t, a, reg)
	if got := get(t, a.Cell, reg); got.Annotations[v1alpha1.AnnotationBackupRequested] != "" {
		t.Fatalf("request annotation kept after the region dropped it: %v", got.Annotations)
	}
}

func TestBackupRunnerTakesFullsBesideTheTail(t *testing.T) {
	src := &fakeBackupSource{rev: 10}
	h := startBackupsWith(t, src, BackupConfig{FullInterval: 300 * time.Millisecond}, testCluster(backupActive))
	st := h.waitStatus(t, "three fulls", func(b *v1alpha1.BackupStatus) bool { return b.Fulls >= 3 })
	src.mu.Lock()
	tails := src.tails
	src.mu.Unlock()
	if tails != 1 {
		t.Fatalf("tail started %d times; fulls should not restart it", tails)
	}
	if st.Revision < st.LastFullRevision {
		t.Fatalf("status revision %d behind the last full %d", st.Revision, st.LastFullRevision)
	}
	c := h.catalog(t)
	for _, f := range c.Fulls {
		// Every full's chain reaches past it: the tail's incrementals span it.
		if _, err := c.PlanTo(f.Revision + 1); err != nil && f.Revision < c.Fulls[len(c.Fulls)-1].Revision {
			t.Errorf("plan after full %d: %v", f.Revision, err)
		}
	}
	if p, err := c.Latest(); err != nil || p.Full.Revision != c.Fulls[len(c.Fulls)-1].Revision {
		t.Fatalf("latest = %+v, %v", p, err)
	}
}
