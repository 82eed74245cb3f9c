package etcdcare

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"go.etcd.io/etcd/api/v3/mvccpb"
	clientv3 "go.etcd.io/etcd/client/v3"
)

// TestSnapshotTailRestoreReplay takes the whole backup path with real etcd: a
// full snapshot, a tailer catching the writes after it, a restore with etcdutl
// into a new cluster, and a replay that brings it to the source's state.
func TestSnapshotTailRestoreReplay(t *testing.T) {
	t.Parallel()
	src := startTestCluster(t, 5)
	ctx := testCtx(t, 90*time.Second)
	cli := src.client()
	fill(t, ctx, cli, "/registry/configmaps/ns/a-", 50, 100)

	snapPath := filepath.Join(t.TempDir(), "snapshot.db")
	snapRev := takeSnapshot(t, ctx, cli, snapPath)

	batches, tailer := startTailer(t, ctx, cli, snapRev)
	lastRev := writeAfterSnapshot(t, ctx, cli)
	waitFlushed(t, ctx, tailer, lastRev)
	got := checkBatches(t, batches(), snapRev, lastRev)

	dst := newTestCluster(t, 6)
	restore(t, ctx, dst, snapPath)
	for i := range dst.members {
		dst.start(i, "new", dst.initialCluster())
	}
	dst.waitHealthy()
	dcli := dst.client()
	resp, err := dcli.Get(ctx, "/registry/configmaps/ns/a-000049")
	if err != nil || len(resp.Kvs) != 1 || resp.Header.Revision < snapRev+DefaultBumpRevision {
		t.Fatalf("restored cluster: %v, %v; want the key at revision %d or later", resp, err, snapRev+DefaultBumpRevision)
	}
	if equalKeys(t, ctx, cli, dcli) {
		t.Fatal("restored cluster already has the writes after the snapshot")
	}

	rr, err := Replay(ctx, dcli, snapRev, got, nil)
	if err != nil || rr.To != lastRev || rr.Applied != int(lastRev-snapRev) {
		t.Fatalf("Replay = %+v, %v; want revisions %d..%d applied", rr, err, snapRev+1, lastRev)
	}
	if !equalKeys(t, ctx, cli, dcli) {
		t.Fatal("after replay the restored cluster differs from the source")
	}
	ev, err := dcli.Get(ctx, "/registry/events/ns/e1")
	if err != nil || len(ev.Kvs) != 1 || ev.Kvs[0].Lease == 0 {
		t.Fatalf("leased key after replay: %v, %v; want it attached to a lease", ev, err)
	}
	// Again, and with the batches shuffled: nothing more to apply.
	rr, err = Replay(ctx, dcli, snapRev, []Batch{got[len(got)-1], got[0]}, nil)
	if err != nil || rr.Applied != 0 {
		t.Fatalf("second Replay = %+v, %v; want nothing applied", rr, err)
	}
	if !equalKeys(t, ctx, cli, dcli) {
		t.Fatal("second replay changed the restored cluster")
	}

	checkFailedRestoreLeavesData(t, ctx, dst, snapPath)
	checkTailerNeedsSnapshotAfterCompaction(t, ctx, cli, snapRev)
}

func takeSnapshot(t *testing.T, ctx context.Context, cli *clientv3.Client, path string) int64 {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	before, err := cli.Get(ctx, "/registry/configmaps/ns/a-000049")
	if err != nil {
		t.Fatal(err)
	}
	rev, err := Snapshot(ctx, cli, f)
	if err != nil {
		t.Fatalf("Snapshot: %v", err)
	}
	if rev < before.Header.Revision {
		t.Fatalf("snapshot revision %d is before the last write %d", rev, before.Header.Revision)
	}
	return rev
}

func startTailer(t *testing.T, ctx context.Context, cli *clientv3.Client, from int64) (func() []Batch, *Tailer) {
	t.Helper()
	var mu sync.Mutex
	var encoded [][]byte
	tailer, err := NewTailer(TailerConfig{
		Client: cli, From: from, FlushInterval: 200 * time.Millisecond, MaxBatchBytes: 2048,
		Flush: func(_ context.Context, b Batch) error {
			data, err := b.MarshalBinary()
			mu.Lock()
			defer mu.Unlock()
			encoded = append(encoded, data)
			return err
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	tctx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- tailer.Run(tctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; !errors.Is(err, context.Canceled) {
			t.Errorf("tailer stopped with %v", err)
		}
	})
	batches := func() []Batch {
		mu.Lock()
		defer mu.Unlock()
		var out []Batch
		for _, data := range encoded {
			var b Batch
			if err := b.UnmarshalBinary(data); err != nil {
				t.Fatalf("decoding batch: %v", err)
			}
			out = append(out, b)
		}
		return out
	}
	return batches, tailer
}

// writeAfterSnapshot puts, updates and deletes keys, in single requests and in a
// transaction, and attaches one to a lease; it returns the last revision.
func writeAfterSnapshot(t *testing.T, ctx context.Context, cli *clientv3.Client) int64 {
	t.Helper()
	fill(t, ctx, cli, "/registry/configmaps/ns/b-", 30, 300) // one transaction
	for i := range 20 {
		if _, err := cli.Put(ctx, fmt.Sprintf("/registry/pods/ns/p-%d", i), fmt.Sprint("v", i)); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := cli.Put(ctx, "/registry/configmaps/ns/a-000001", "changed"); err != nil {
		t.Fatal(err)
	}
	if _, err := cli.Delete(ctx, "/registry/configmaps/ns/a-00001", clientv3.WithPrefix()); err != nil {
		t.Fatal(err)
	}
	lease, err := cli.Grant(ctx, 600)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := cli.Put(ctx, "/registry/events/ns/e1", "event", clientv3.WithLease(lease.ID))
	if err != nil {
		t.Fatal(err)
	}
	return resp.Header.Revision
}

func waitFlushed(t *testing.T, ctx context.Context, tailer *Tailer, rev int64) {
	t.Helper()
	err := poll(ctx, 50*time.Millisecond, 10*time.Second, func(context.Context) (bool, error) {
		return tailer.Flushed() >= rev, nil
	})
	if err != nil {
		t.Fatalf("tailer flushed up to %d, want %d: %v", tailer.Flushed(), rev, err)
	}
}

// checkBatches checks the batches are contiguous from the snapshot to the last
// write and hold puts and deletes.
func checkBatches(t *testing.T, batches []Batch, snapRev, lastRev int64) []Batch {
	t.Helper()
	if len(batches) < 2 {
		t.Fatalf("%d batches; the size limit should have split them", len(batches))
	}
	next := snapRev + 1
	types := map[mvccpb.Event_EventType]int{}
	for _, b := range batches {
		if b.First != next || b.Last < b.First {
			t.Fatalf("batch %d..%d after revision %d: not contiguous", b.First, b.Last, next-1)
		}
		next = b.Last + 1
		for _, ev := range b.Events {
			types[ev.Type]++
		}
	}
	if next-1 != lastRev || types[mvccpb.PUT] == 0 || types[mvccpb.DELETE] != 10 {
		t.Fatalf("batches end at %d (want %d) with events %v", next-1, lastRev, types)
	}
	return batches
}

func restore(t *testing.T, ctx context.Context, c *testCluster, snapPath string) {
	t.Helper()
	if err := Restore(ctx, restoreConfig(c, snapPath)); err != nil {
		t.Fatalf("Restore: %v", err)
	}
}

func restoreConfig(c *testCluster, snapPath string) RestoreConfig {
	cfg := RestoreConfig{Etcdutl: c.bins.Etcdutl, Snapshot: snapPath, Token: c.token}
	for _, m := range c.members {
		cfg.Members = append(cfg.Members, RestoreMember{Name: m.name, PeerURL: m.peerURL(), DataDir: m.dataDir})
	}
	return cfg
}

// equalKeys reports whether both clusters hold the same keys and values outside
// the reserved prefix.
func equalKeys(t *testing.T, ctx context.Context, a, b *clientv3.Client) bool {
	t.Helper()
	ka, kb := dump(t, ctx, a), dump(t, ctx, b)
	if len(ka) != len(kb) {
		return false
	}
	for k, v := range ka {
		if w, ok := kb[k]; !ok || w != v {
			return false
		}
	}
	return true
}

func dump(t *testing.T, ctx context.Context, cli *clientv3.Client) map[string]string {
	t.Helper()
	resp, err := cli.Get(ctx, "/registry/", clientv3.WithPrefix())
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, kv := range resp.Kvs {
		out[string(kv.Key)] = string(kv.Value)
	}
	return out
}

// checkFailedRestoreLeavesData: a restore refuses running members, a restore from
// a corrupt snapshot fails without touching the data, and a good one replaces it.
func checkFailedRestoreLeavesData(t *testing.T, ctx context.Context, c *testCluster, snapPath string) {
	t.Helper()
	if err := Restore(ctx, restoreConfig(c, snapPath)); !errors.Is(err, ErrMemberRunning) {
		t.Fatalf("Restore over running members = %v, want ErrMemberRunning", err)
	}
	for i := range c.members {
		c.stop(i)
	}
	data, err := os.ReadFile(snapPath)
	if err != nil {
		t.Fatal(err)
	}
	data[len(data)/2] ^= 0xff
	bad := filepath.Join(t.TempDir(), "corrupt.db")
	if err := os.WriteFile(bad, data, 0o600); err != nil {
		t.Fatal(err)
	}
	before := treeDigest(t, filepath.Dir(c.members[0].dataDir))
	if err := Restore(ctx, restoreConfig(c, bad)); err == nil {
		t.Fatal("Restore from a corrupt snapshot succeeded")
	} else {
		t.Logf("corrupt snapshot: %v", err)
	}
	if after := treeDigest(t, filepath.Dir(c.members[0].dataDir)); after != before {
		t.Fatal("failed restore changed the data directories")
	}

	// A good snapshot replaces the data: the replayed writes are gone again.
	restore(t, ctx, c, snapPath)
	if stale, _ := filepath.Glob(filepath.Join(filepath.Dir(c.members[0].dataDir), ".*restore*")); len(stale) != 0 {
		t.Fatalf("restore left %v behind", stale)
	}
	for i := range c.members {
		c.start(i, "new", c.initialCluster())
	}
	c.waitHealthy()
	for _, key := range []string{"/registry/configmaps/ns/b-000000", ReplayMarkerKey} {
		if resp, err := c.client().Get(ctx, key); err != nil || len(resp.Kvs) != 0 {
			t.Fatalf("after restoring over old data, %s: %v, %v; want it gone", key, resp, err)
		}
	}
}

// treeDigest hashes every file's name and content under the data directories.
func treeDigest(t *testing.T, root string) string {
	t.Helper()
	h := sha256.New()
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil || filepath.Ext(p) == ".log" {
			return err
		}
		_, _ = fmt.Fprintln(h, p) // a hash.Hash's Write never returns an error
		if d.Type().IsRegular() {
			b, err := os.ReadFile(p)
			h.Write(b)
			return err
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return fmt.Sprintf("%x", h.Sum(nil))
}

func checkTailerNeedsSnapshotAfterCompaction(t *testing.T, ctx context.Context, cli *clientv3.Client, from int64) {
	t.Helper()
	if _, err := compactNow(ctx, cli); err != nil {
		t.Fatal(err)
	}
	tailer, err := NewTailer(TailerConfig{Client: cli, From: from, Flush: func(context.Context, Batch) error { return nil }})
	if err != nil {
		t.Fatal(err)
	}
	rctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := tailer.Run(rctx); !errors.Is(err, ErrSnapshotRequired) {
		t.Fatalf("tailing compacted history = %v, want ErrSnapshotRequired", err)
	}
}
