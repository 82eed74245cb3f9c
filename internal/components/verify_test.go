package components

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// installedEtcd is a cache whose etcd entry was installed as a build installs
// it: binaries, their manifest, .complete. Its go command fails if run.
func installedEtcd(t *testing.T) (*Cache, string, *bytes.Buffer) {
	t.Helper()
	root := t.TempDir()
	var progress bytes.Buffer
	c := New(Config{CacheDir: root, Go: failingGo, Progress: &progress})
	out, dir := filepath.Join(root, ".build-x", "bin"), filepath.Join(root, "etcd-"+EtcdVersion)
	writeBinaries(t, out, "server", "etcdctl", "etcdutl")
	if err := install(out, dir, etcdBuild()); err != nil {
		t.Fatal(err)
	}
	return c, dir, &progress
}

func TestInstalledBinariesVerify(t *testing.T) {
	c, dir, _ := installedEtcd(t)
	b, err := c.Etcd(context.Background())
	if err != nil {
		t.Fatalf("Etcd on an intact entry: %v", err)
	}
	if b.Etcd != filepath.Join(dir, "etcd") {
		t.Fatalf("Etcd = %+v", b)
	}
	sums, err := readManifest(dir)
	if err != nil || len(sums) != 3 {
		t.Fatalf("manifest = %v, %v; want three hashes", sums, err)
	}
}

// A binary altered after it was built is refused by name, every time, and is
// neither rebuilt nor replaced: the operator has to look.
func TestTamperedBinaryIsRefused(t *testing.T) {
	c, dir, _ := installedEtcd(t)
	ctx := context.Background()
	if _, err := c.Etcd(ctx); err != nil { // remembers the intact binaries
		t.Fatal(err)
	}
	bin := filepath.Join(dir, "etcdctl")
	fi, err := os.Stat(bin)
	if err != nil {
		t.Fatal(err)
	}
	// Same size, same modification time: only the content (and the ctime,
	// which no one can set back) differs.
	tampered := []byte("#!/bin/true\n\n")[:fi.Size()]
	if err := os.WriteFile(bin, tampered, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Chtimes(bin, fi.ModTime(), fi.ModTime()); err != nil {
		t.Fatal(err)
	}
	for range 2 {
		_, err := c.Etcd(ctx)
		if !errors.Is(err, ErrTampered) || !strings.Contains(err.Error(), bin) || !strings.Contains(err.Error(), "refusing to run it") {
			t.Fatalf("Etcd with a tampered etcdctl = %v; want ErrTampered naming it", err)
		}
	}
	if got, _ := os.ReadFile(bin); !bytes.Equal(got, tampered) {
		t.Fatal("the tampered binary was replaced")
	}
	// A fresh Cache (a restarted process) refuses it too.
	if _, err := New(Config{CacheDir: c.cfg.CacheDir, Go: failingGo}).Etcd(ctx); !errors.Is(err, ErrTampered) {
		t.Fatalf("a new Cache accepted the tampered binary: %v", err)
	}
}

func TestBinaryWritableByOthersIsRefused(t *testing.T) {
	c, dir, _ := installedEtcd(t)
	if err := os.Chmod(filepath.Join(dir, "etcd"), 0o777); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Etcd(context.Background()); !errors.Is(err, ErrTampered) || !strings.Contains(err.Error(), "group or others") {
		t.Fatalf("Etcd with a world-writable binary = %v; want ErrTampered", err)
	}
}

func TestManifestMissingBinaryIsRefused(t *testing.T) {
	c, dir, _ := installedEtcd(t)
	if err := os.WriteFile(filepath.Join(dir, manifestFile), []byte("# emptied\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Etcd(context.Background()); !errors.Is(err, ErrTampered) {
		t.Fatalf("Etcd with hashes missing = %v; want ErrTampered", err)
	}
}

// An entry built before manifests existed is adopted with a warning, once,
// and verified from then on.
func TestLegacyEntryIsAdoptedWithWarning(t *testing.T) {
	root := t.TempDir()
	var progress bytes.Buffer
	c := New(Config{CacheDir: root, Go: failingGo, Progress: &progress})
	dir := filepath.Join(root, "etcd-"+EtcdVersion)
	markComplete(t, dir, etcdBuild().binaries()...)
	if _, err := c.Etcd(context.Background()); err != nil {
		t.Fatalf("Etcd on a legacy entry: %v", err)
	}
	if !strings.Contains(progress.String(), "warning: "+dir) {
		t.Fatalf("no warning on adoption: %q", progress.String())
	}
	data, err := os.ReadFile(filepath.Join(dir, manifestFile))
	if err != nil || !strings.HasPrefix(string(data), "# adopted ") {
		t.Fatalf("manifest after adoption = %q, %v", data, err)
	}
	progress.Reset()
	if err := os.WriteFile(filepath.Join(dir, "etcdutl"), []byte("evil"), 0o755); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Etcd(context.Background()); !errors.Is(err, ErrTampered) {
		t.Fatalf("tampered after adoption: %v; want ErrTampered", err)
	}
	if strings.Contains(progress.String(), "warning") {
		t.Fatalf("adopted twice: %q", progress.String())
	}
}

// A legacy entry others could have written is not adopted.
func TestLegacyEntryOpenToOthersIsRefused(t *testing.T) {
	root := t.TempDir()
	c := New(Config{CacheDir: root, Go: failingGo})
	dir := filepath.Join(root, "etcd-"+EtcdVersion)
	markComplete(t, dir, etcdBuild().binaries()...)
	if err := os.Chmod(filepath.Join(dir, "etcd"), 0o775); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Etcd(context.Background()); !errors.Is(err, ErrTampered) {
		t.Fatalf("Etcd on a group-writable legacy entry = %v; want ErrTampered", err)
	}
	if _, err := os.Stat(filepath.Join(dir, manifestFile)); err == nil {
		t.Fatal("a refused entry was given a manifest")
	}
}

func TestCacheRootIsPrivate(t *testing.T) {
	parent := t.TempDir()
	fresh := filepath.Join(parent, "fresh")
	c := New(Config{CacheDir: fresh, Go: failingGo})
	_, _ = c.Etcd(context.Background()) // fails to build; the root is made first
	if fi, err := os.Stat(fresh); err != nil || fi.Mode().Perm() != 0o700 {
		t.Fatalf("new cache root: %v, %v; want mode 0700", fi, err)
	}
	// A cache made by the code before (0750) is tightened.
	old := filepath.Join(parent, "old")
	if err := os.Mkdir(old, 0o750); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(old, 0o755); err != nil {
		t.Fatal(err)
	}
	var progress bytes.Buffer
	c = New(Config{CacheDir: old, Go: failingGo, Progress: &progress})
	markComplete(t, filepath.Join(old, "etcd-"+EtcdVersion), etcdBuild().binaries()...)
	if _, err := c.Etcd(context.Background()); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(old); err != nil || fi.Mode().Perm() != 0o700 {
		t.Fatalf("old cache root: %v, %v; want mode 0700", fi, err)
	}
	if !strings.Contains(progress.String(), "restricted component cache") {
		t.Fatalf("tightening not reported: %q", progress.String())
	}
}

// Verifying an unchanged entry again need not read the binaries: their
// stamps are remembered; a changed stamp (here a touch) means a re-hash,
// which an intact binary passes.
func TestVerifiedBinariesAreNotRehashed(t *testing.T) {
	c, dir, _ := installedEtcd(t)
	if _, err := c.Etcd(context.Background()); err != nil {
		t.Fatal(err)
	}
	// Every binary's stamp is remembered, so the next call only stats them.
	c.mu.Lock()
	n := len(c.verified)
	c.mu.Unlock()
	if n != 3 {
		t.Fatalf("%d binaries remembered as verified, want 3", n)
	}
	past := time.Now().Add(-time.Hour)
	if err := os.Chtimes(filepath.Join(dir, "etcd"), past, past); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Etcd(context.Background()); err != nil {
		t.Fatalf("a touched but intact binary: %v", err)
	}
}
