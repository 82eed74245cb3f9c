package backups

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
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/cellplane/cellplane/api/v1alpha1"
	"github.com/cellplane/cellplane/internal/backup"
	"github.com/cellplane/cellplane/internal/backup/envelope"
	"github.com/cellplane/cellplane/internal/backup/objstore"
	"github.com/cellplane/cellplane/internal/cell/tenant"
	"github.com/cellplane/cellplane/internal/controlplane"
	"github.com/cellplane/cellplane/internal/etcdcare"
	"github.com/cellplane/cellplane/internal/ipam"
	"github.com/cellplane/cellplane/internal/poll"
	"github.com/cellplane/cellplane/internal/store/storetest"
)

// The runner works on a real management store: it lists the cell's clusters
// and patches status.backup through the status subresource. It lists every
// cluster of the store, so each test deletes its cluster when it ends (after
// its runner stopped) and none runs in parallel; etcd is faked.
var env storetest.Env

func TestMain(m *testing.M) { storetest.Main(m, &env) }

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

func (f *fakeBackupSource) snapshotCount() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.snapshots
}

func (f *fakeBackupSource) revision() int64 {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.rev
}

type backupHarness struct {
	runner *Runner
	client client.Client
	key    types.NamespacedName
	uid    types.UID
	src    *fakeBackupSource
	store  objstore.Store
	kms    envelope.KMS
	cancel context.CancelFunc
	done   chan struct{}
}

func slotPtr(s int32) *int32 { return &s }

func backupActive(c *v1alpha1.Cluster) {
	c.Status.Status, c.Status.Slot = v1alpha1.StatusActive, slotPtr(0)
}

// testCluster is a cluster as the agent copies it into the cell's store, in
// t's own namespace.
func testCluster(t *testing.T, mods ...func(*v1alpha1.Cluster)) *v1alpha1.Cluster {
	t.Helper()
	c := &v1alpha1.Cluster{
		ObjectMeta: metav1.ObjectMeta{Namespace: env.Namespace(t), Name: "demo"},
		Spec:       v1alpha1.ClusterSpec{Name: "demo", Version: "1.35", Cell: "cell-1"},
	}
	for _, m := range mods {
		m(c)
	}
	return c
}

func startBackups(t *testing.T, src *fakeBackupSource, c *v1alpha1.Cluster) *backupHarness {
	return startBackupsWith(t, src, Config{}, c)
}

// startBackupsWith stores c with its status, as the lifecycle would have
// written it, and runs a runner over the store until t ends, before c is
// deleted.
func startBackupsWith(t *testing.T, src *fakeBackupSource, cfg Config, c *v1alpha1.Cluster) *backupHarness {
	t.Helper()
	env.CreateWithStatus(t, c)
	env.DeleteOnCleanup(t, c)
	dir := t.TempDir()
	store, err := objstore.NewDir(filepath.Join(dir, "backups"))
	if err != nil {
		t.Fatal(err)
	}
	kms, err := envelope.NewLocalKMS(filepath.Join(dir, "kek"))
	if err != nil {
		t.Fatal(err)
	}
	b, err := ipam.ParseBlock("127.249", 1)
	if err != nil {
		t.Fatal(err)
	}
	h := &backupHarness{client: env.Client(t), key: client.ObjectKeyFromObject(c), uid: c.UID,
		src: src, store: store, kms: kms, done: make(chan struct{})}
	h.runner = &Runner{
		Client: h.client, Layout: tenant.Layout{Dir: dir, Cell: b.Cell(1)}, Storage: backup.Storage{Dir: store.Root()}, Store: store, KMS: kms,
		SpoolDir: t.TempDir(), Dial: func(*controlplane.Plan) (Source, error) { return src, nil },
		Config: Config{FlushInterval: 20 * time.Millisecond, StatusInterval: 10 * time.Millisecond, FullInterval: cfg.FullInterval},
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
	var got *v1alpha1.BackupStatus
	err := poll.Until(context.Background(), 10*time.Second, 20*time.Millisecond, func() error {
		c := &v1alpha1.Cluster{}
		if err := h.client.Get(context.Background(), h.key, c); err != nil {
			return err
		}
		if got = c.Status.Backup; got == nil || !ok(got) {
			return fmt.Errorf("status %+v", got)
		}
		return nil
	})
	if err != nil {
		t.Fatalf("waiting for %s: %v", what, err)
	}
	return got
}

func (h *backupHarness) catalog(t *testing.T) backup.Catalog {
	t.Helper()
	set := backup.New(h.store, h.kms, backup.Ref{Namespace: h.key.Namespace, Name: h.key.Name, UID: string(h.uid)})
	c, err := set.List(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestBackupRunnerFullThenIncrementals(t *testing.T) {
	h := startBackups(t, &fakeBackupSource{rev: 10}, testCluster(t, backupActive))
	st := h.waitStatus(t, "a full and incrementals", func(b *v1alpha1.BackupStatus) bool {
		return b.LastFullTime != nil && b.Revision >= b.LastFullRevision+3 && b.RecoveryPointTime != nil
	})
	if st.LastFullRevision != 10 || st.Fulls != 1 || st.LastFullBytes == 0 || st.Location == "" || st.LastError != "" {
		t.Fatalf("status = %+v", st)
	}
	if st.Set != string(h.uid) {
		t.Errorf("status names set %q, want the cluster's UID %s", st.Set, h.uid)
	}
	c := h.catalog(t)
	p, err := c.Latest()
	if err != nil || p.Full.Revision != 10 || len(p.Incrementals) < 3 || p.Revision < st.Revision {
		t.Fatalf("latest plan = %+v, %v (status revision %d)", p, err, st.Revision)
	}
}

func TestBackupRunnerResumesWithoutNewFull(t *testing.T) {
	src := &fakeBackupSource{rev: 10}
	h := startBackups(t, src, testCluster(t, backupActive))
	h.waitStatus(t, "incrementals", func(b *v1alpha1.BackupStatus) bool { return b.Revision >= 13 })
	h.stop()
	// A new runner (a restarted cell) on the same storage continues the chain.
	h2 := &Runner{}
	*h2 = *h.runner
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = h2.Start(ctx) }()
	defer func() { cancel(); <-done }()
	last := src.revision() // the new runner's worker may be tailing already
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
	h := startBackups(t, src, testCluster(t, backupActive))
	st := h.waitStatus(t, "a second full", func(b *v1alpha1.BackupStatus) bool {
		return b.LastFullRevision == 15 && b.Revision > 15
	})
	if st.Fulls != 2 {
		t.Fatalf("status = %+v", st)
	}
}

func TestBackupRunnerHonoursRequest(t *testing.T) {
	h := startBackups(t, &fakeBackupSource{rev: 10}, testCluster(t, backupActive))
	first := h.waitStatus(t, "a full", func(b *v1alpha1.BackupStatus) bool { return b.LastFullTime != nil })
	req := time.Now().UTC()
	c := &v1alpha1.Cluster{ObjectMeta: metav1.ObjectMeta{Namespace: h.key.Namespace, Name: h.key.Name}}
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
	// With the cell's finalizer the cluster stays, deleting, until the
	// lifecycle tears it down: the runner must stop at the deletion, not the
	// object's end.
	cl := testCluster(t, backupActive, func(c *v1alpha1.Cluster) { c.Finalizers = []string{v1alpha1.CellFinalizer} })
	h := startBackups(t, src, cl)
	h.waitStatus(t, "incrementals", func(b *v1alpha1.BackupStatus) bool { return b.Revision >= 12 })
	del := &v1alpha1.Cluster{ObjectMeta: metav1.ObjectMeta{Namespace: h.key.Namespace, Name: h.key.Name}}
	if err := h.client.Delete(context.Background(), del); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		before := src.revision()
		time.Sleep(200 * time.Millisecond) //nolint:forbidigo // a quiet window: ten 20 ms tail ticks with no write mean no tail
		if src.revision() == before {
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
		c := &v1alpha1.Cluster{Status: v1alpha1.ClusterStatus{Status: tc.status}}
		if tc.slot {
			c.Status.Slot = slotPtr(0)
		}
		if got := wantBackups(c, tc.running); got != tc.want {
			t.Errorf("wantBackups(%s, slot %v, running %v) = %v", tc.status, tc.slot, tc.running, got)
		}
	}
}

func TestBackupRunnerTakesFullsBesideTheTail(t *testing.T) {
	src := &fakeBackupSource{rev: 10}
	h := startBackupsWith(t, src, Config{FullInterval: 300 * time.Millisecond}, testCluster(t, backupActive))
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
