package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/cellplane/cellplane/api/v1alpha1"
	"github.com/cellplane/cellplane/internal/backup"
	"github.com/cellplane/cellplane/internal/backup/objstore"
	"github.com/cellplane/cellplane/internal/eks"
	"github.com/cellplane/cellplane/test/framework"
)

// TestSecurityBackupTampering attacks a real backup in MinIO as someone with
// write access to the bucket would: the newest full renamed to a later
// revision (its manifest rewritten to match), the newest full truncated, and
// the newest incremental dropped (object and manifest).
// Each restore fails with an error saying what is wrong, the failed cluster
// runs nothing, and the source's backups and data are as they were.
func TestSecurityBackupTampering(t *testing.T) {
	ctx := ctxFor(t)
	in, m := startBackingUpToMinIO(ctx, t)
	store, err := objstore.NewS3(m.StoreConfig("cellplane"))
	if err != nil {
		t.Fatal(err)
	}

	const src = "tamper-src"
	createActive(ctx, t, in, src)
	kc := kubeconfig(ctx, t, in, src)
	if _, err := kubectl(ctx, kc, "create", "configmap", "precious", "--from-literal=k=v"); err != nil {
		t.Fatal(err)
	}
	waitBackupStatus(ctx, t, in, src, "a full", func(b *eks.Backup) bool { return b.LastFullTime != nil })
	full := newestFull(ctx, t, store, backup.ClusterPrefix(v1alpha1.Namespace(v1alpha1.DefaultAccount), src))
	data, manifest := get(ctx, t, store, full), get(ctx, t, store, full+".manifest.json")

	t.Run("renamed full", func(t *testing.T) {
		// Renamed to a revision far ahead, so a restore of the newest picks it.
		moved := strings.Replace(full, "/full/0000", "/full/0009", 1)
		put(ctx, t, store, moved, data)
		put(ctx, t, store, moved+".manifest.json", retargetManifest(t, manifest, moved))
		del(ctx, t, store, full, full+".manifest.json")
		defer func() {
			del(ctx, t, store, moved, moved+".manifest.json")
			put(ctx, t, store, full, data)
			put(ctx, t, store, full+".manifest.json", manifest)
		}()
		failedRestore(ctx, t, in, store, src, "tamper-renamed", "not where it was written")
	})

	t.Run("truncated full", func(t *testing.T) {
		put(ctx, t, store, full, data[:len(data)-len(data)/3])
		defer put(ctx, t, store, full, data)
		failedRestore(ctx, t, in, store, src, "tamper-truncated", "backup object corrupt")
	})

	t.Run("newest incremental dropped", func(t *testing.T) {
		waitBackupStatus(ctx, t, in, src, "an incremental after the full", func(b *eks.Backup) bool { return b.Revision > b.LastFullRevision })
		incr := newest(ctx, t, store, backup.ClusterPrefix(v1alpha1.Namespace(v1alpha1.DefaultAccount), src), "/incr/", ".batch.enc")
		idata, imanifest := get(ctx, t, store, incr), get(ctx, t, store, incr+".manifest.json")
		del(ctx, t, store, incr, incr+".manifest.json")
		defer func() {
			put(ctx, t, store, incr, idata)
			put(ctx, t, store, incr+".manifest.json", imanifest)
		}()
		failedRestore(ctx, t, in, store, src, "tamper-dropped", "newest objects were removed")
	})

	// The source is untouched by every attempt.
	if out, err := kubectl(ctx, kc, "get", "configmap", "precious", "-o", "jsonpath={.data.k}"); err != nil || out != "v" {
		t.Fatalf("source configmap after the failed restores: %q, %v", out, err)
	}
}

// failedRestore creates dst from src's backups and expects it to fail with
// want in its reason, running nothing and writing nothing to the bucket.
func failedRestore(ctx context.Context, t *testing.T, in *framework.Instance, store objstore.Store, src, dst, want string) {
	t.Helper()
	before := keysUnder(ctx, t, store, "clusters/")
	start := time.Now()
	_, errOut, err := in.CLI(ctx, "cluster", "create", dst, "--from-backup", src, "--wait")
	if err == nil || !strings.Contains(errOut, want) {
		t.Fatalf("cluster create %s --from-backup %s: %v, want a failure saying %q:\n%s", dst, src, err, want, errOut)
	}
	cl := describe(ctx, t, in, dst)
	if cl.Status != v1alpha1.StatusFailed || cl.Cellplane == nil || !strings.Contains(cl.Cellplane.Reason, want) {
		t.Fatalf("cluster %s: %s %+v; want FAILED saying %q", dst, cl.Status, cl.Cellplane, want)
	}
	if pids, _ := pidsOf(cl); len(pids) != 0 {
		t.Fatalf("the failed restore left processes running: %v", pids)
	}
	// Nothing of dst in the bucket, and nothing of the source's changed:
	// only the source's own tail may have added objects meanwhile.
	after := keysUnder(ctx, t, store, "clusters/")
	for _, k := range before {
		if !slices.Contains(after, k) {
			t.Errorf("object %s vanished during the failed restore", k)
		}
	}
	for _, k := range after {
		if strings.Contains(k, "/"+v1alpha1.ObjectName(dst)+"/") {
			t.Errorf("the failed restore stored %s", k)
		}
	}
	t.Logf("restore from a tampered backup failed after %s: %s", time.Since(start).Round(100*time.Millisecond), cl.Cellplane.Reason)
}

func newestFull(ctx context.Context, t *testing.T, store objstore.Store, prefix string) string {
	t.Helper()
	return newest(ctx, t, store, prefix, "/full/", ".db.zst.enc")
}

// newest is the last data object under prefix in dir: keys sort by revision
// (20 digits).
func newest(ctx context.Context, t *testing.T, store objstore.Store, prefix, dir, suffix string) string {
	t.Helper()
	var found []string
	for _, k := range keysUnder(ctx, t, store, prefix) {
		if strings.Contains(k, dir) && strings.HasSuffix(k, suffix) {
			found = append(found, k)
		}
	}
	if len(found) == 0 {
		t.Fatalf("no %s object under %s", dir, prefix)
	}
	return found[len(found)-1]
}

func keysUnder(ctx context.Context, t *testing.T, store objstore.Store, prefix string) []string {
	t.Helper()
	objs, err := store.List(ctx, prefix)
	if err != nil {
		t.Fatal(err)
	}
	keys := make([]string, len(objs))
	for i, o := range objs {
		keys[i] = o.Key
	}
	return keys
}

// retargetManifest rewrites a manifest's key and revision to describe the
// object's new place, as an attacker editing the plain JSON would.
func retargetManifest(t *testing.T, manifest []byte, key string) []byte {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(manifest, &m); err != nil {
		t.Fatal(err)
	}
	rel := key[strings.Index(key, "/full/")+1:]
	m["key"] = rel
	rev := strings.TrimLeft(strings.TrimSuffix(strings.TrimPrefix(rel, "full/"), ".db.zst.enc"), "0")
	m["revision"] = json.Number(rev)
	out, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func put(ctx context.Context, t *testing.T, store objstore.Store, key string, data []byte) {
	t.Helper()
	if err := store.Put(ctx, key, bytes.NewReader(data), int64(len(data))); err != nil {
		t.Fatal(err)
	}
}

func del(ctx context.Context, t *testing.T, store objstore.Store, keys ...string) {
	t.Helper()
	for _, k := range keys {
		if err := store.Delete(ctx, k); err != nil {
			t.Fatal(err)
		}
	}
}
