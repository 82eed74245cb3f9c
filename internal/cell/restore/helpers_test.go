package restore

import (
	"context"
	"io"
	"log/slog"
	"path/filepath"
	"sync"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/cellplane/cellplane/api/v1alpha1"
	"github.com/cellplane/cellplane/internal/backup"
	"github.com/cellplane/cellplane/internal/backup/envelope"
	"github.com/cellplane/cellplane/internal/cell/etcdstate"
	"github.com/cellplane/cellplane/internal/cell/tenant"
	"github.com/cellplane/cellplane/internal/components"
	"github.com/cellplane/cellplane/internal/controlplane"
	"github.com/cellplane/cellplane/internal/etcdcare"
	"github.com/cellplane/cellplane/internal/ipam"
	"github.com/cellplane/cellplane/internal/runtime/process"
)

// The restore concerns read and write no store: they take the cluster as the
// lifecycle's pass holds it (its conditions and status.restore are patched by
// the lifecycle) and keep their records on disk. The backups are real, in a
// directory; etcd is faked.

var discard = slog.New(slog.DiscardHandler)

func testBackups(t *testing.T) *Backups {
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
	return &Backups{Storage: st, Store: store, KMS: kms}
}

// putSet stores a set of cluster name with UID uid: a full at full and the
// incrementals given as first-last pairs.
func putSet(t *testing.T, b *Backups, name, uid string, full int64, incs ...[2]int64) {
	t.Helper()
	ctx := context.Background()
	ref := backup.Ref{Namespace: v1alpha1.Namespace(v1alpha1.DefaultAccount), Name: v1alpha1.ObjectName(name), UID: uid}
	set := backup.New(b.Store, b.KMS, ref)
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

func slotPtr(s int32) *int32 { return &s }

// testCluster is a placed cluster of the default account, as the cell's
// store holds it.
func testCluster(mods ...func(*v1alpha1.Cluster)) *v1alpha1.Cluster {
	c := &v1alpha1.Cluster{
		ObjectMeta: metav1.ObjectMeta{Namespace: v1alpha1.Namespace(v1alpha1.DefaultAccount), Name: v1alpha1.ObjectName("demo"), UID: "uid-demo"},
		Spec:       v1alpha1.ClusterSpec{Name: "demo", Version: "1.35", Cell: "cell-1"},
		Status:     v1alpha1.ClusterStatus{Slot: slotPtr(1)},
	}
	for _, m := range mods {
		m(c)
	}
	return c
}

func restoring(src v1alpha1.RestoreSource) func(*v1alpha1.Cluster) {
	return func(c *v1alpha1.Cluster) { c.Spec.RestoreFrom = &src }
}

// testPlan is c's plan in a cell directory of t's own.
func testPlan(t *testing.T, c *v1alpha1.Cluster) *controlplane.Plan {
	t.Helper()
	b, err := ipam.ParseBlock("127.249", 1)
	if err != nil {
		t.Fatal(err)
	}
	l := tenant.Layout{Dir: t.TempDir(), Cell: b.Cell(1), Joined: etcdstate.Joined}
	return l.Plan(c, components.KubernetesBinaries{}, components.EtcdBinaries{})
}

type fakeReplay struct {
	mu          sync.Mutex
	snapshotRev int64
	batches     []etcdcare.Batch
	err         error
	calls       int
}

func (f *fakeReplay) Replay(_ context.Context, snapshotRev int64, batches []etcdcare.Batch, _ *slog.Logger) (etcdcare.ReplayReport, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls++
	f.snapshotRev, f.batches = snapshotRev, batches
	return etcdcare.ReplayReport{Applied: len(batches)}, f.err
}

// fakeStopper records the members it was asked to stop.
type fakeStopper struct {
	mu      sync.Mutex
	stopped []process.Spec
}

func (f *fakeStopper) Stop(_ context.Context, s process.Spec) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.stopped = append(f.stopped, s)
	return nil
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
