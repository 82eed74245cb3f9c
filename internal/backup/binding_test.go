package backup

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

func (f *fixture) path(key string) string {
	return filepath.Join(f.root, filepath.FromSlash(f.set.Prefix()+key))
}

// move renames an object and its manifest to the key to, rewriting the
// manifest's key and revisions as an attacker would so it describes its new
// place; only the MAC and the envelope's binding still tell.
func (f *fixture) move(t *testing.T, from Entry, to string) Entry {
	t.Helper()
	e, ok := parseKey(to)
	if !ok {
		t.Fatalf("bad key %s", to)
	}
	m, err := f.set.manifest(context.Background(), from.Key)
	if err != nil {
		t.Fatal(err)
	}
	m.Key, m.First, m.Revision = e.Key, e.First, e.Revision
	data, _ := json.Marshal(m)
	for _, p := range []string{f.path(to), f.path(manifestKey(to))} {
		if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Rename(f.path(from.Key), f.path(to)); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(f.path(manifestKey(from.Key))); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(f.path(manifestKey(to)), data, 0o600); err != nil {
		t.Fatal(err)
	}
	return e
}

func TestRenamedFullIsMisplaced(t *testing.T) {
	f := newFixture(t)
	old := f.full(t, 10, "old snapshot")
	moved := f.move(t, old, fullKey(500))
	plan, err := f.list(t).Latest()
	if err != nil || plan.Full.Revision != 500 {
		t.Fatalf("the renamed full should look newest to a listing: %+v, %v", plan, err)
	}
	_, err = f.set.ReadAll(context.Background(), moved)
	if !errors.Is(err, ErrMisplaced) || !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), "full/") {
		t.Fatalf("ReadAll of a renamed full = %v, want ErrMisplaced naming it", err)
	}
}

func TestSwappedIncrementalsAreMisplaced(t *testing.T) {
	f := newFixture(t)
	f.full(t, 10, "snapshot")
	a, b := f.incr(t, 11, 20), f.incr(t, 21, 30)
	ad, _ := os.ReadFile(f.path(a.Key))
	bd, _ := os.ReadFile(f.path(b.Key))
	am, _ := os.ReadFile(f.path(manifestKey(a.Key)))
	bm, _ := os.ReadFile(f.path(manifestKey(b.Key)))
	// Swap the data only: each manifest's checksum no longer matches.
	write(t, f.path(a.Key), bd)
	write(t, f.path(b.Key), ad)
	if _, err := f.set.ReadAll(context.Background(), a); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("swapped data: %v, want ErrCorrupt", err)
	}
	// Swap manifests too, with keys and revisions rewritten to fit: the MAC
	// and the binding refuse.
	write(t, f.path(manifestKey(a.Key)), retarget(t, bm, a))
	write(t, f.path(manifestKey(b.Key)), retarget(t, am, b))
	for _, e := range []Entry{a, b} {
		if _, err := f.set.ReadAll(context.Background(), e); !errors.Is(err, ErrMisplaced) {
			t.Fatalf("swapped %s: %v, want ErrMisplaced", e.ID(), err)
		}
	}
}

func retarget(t *testing.T, manifest []byte, to Entry) []byte {
	var m Entry
	if err := json.Unmarshal(manifest, &m); err != nil {
		t.Fatal(err)
	}
	m.Key, m.First, m.Revision = to.Key, to.First, to.Revision
	out, _ := json.Marshal(m)
	return out
}

func write(t *testing.T, p string, data []byte) {
	t.Helper()
	if err := os.WriteFile(p, data, 0o600); err != nil {
		t.Fatal(err)
	}
}

// A whole set copied, key record and all, under another cluster's prefix
// opens with the right data key but is bound to the first cluster.
func TestSetCopiedToAnotherClusterIsMisplaced(t *testing.T) {
	f := newFixture(t)
	full := f.full(t, 10, "cluster one")
	incr := f.incr(t, 11, 12)
	other := New(f.store, f.kms, Ref{Namespace: "acct-2", Name: "victim", UID: "uid-2"})
	src := filepath.Join(f.root, filepath.FromSlash(f.set.Prefix()))
	dst := filepath.Join(f.root, filepath.FromSlash(other.Prefix()))
	if err := os.MkdirAll(filepath.Dir(dst), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.CopyFS(dst, os.DirFS(src)); err != nil {
		t.Fatal(err)
	}
	for _, e := range []Entry{full, incr} {
		if _, err := other.ReadAll(context.Background(), e); !errors.Is(err, ErrMisplaced) {
			t.Fatalf("%s copied to another cluster: %v, want ErrMisplaced", e.ID(), err)
		}
	}
}

// A truncated object fails its checksum and the envelope: ErrCorrupt, and
// nothing of it is handed out as a whole.
func TestTruncatedObjectIsCorrupt(t *testing.T) {
	f := newFixture(t)
	full := f.full(t, 10, strings.Repeat("etcd page ", 10000))
	data, _ := os.ReadFile(f.path(full.Key))
	write(t, f.path(full.Key), data[:len(data)-100])
	if _, err := f.set.ReadAll(context.Background(), full); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("truncated full: %v, want ErrCorrupt", err)
	}
}

// In a set created before binding (no format in its key record), unsigned
// manifests restore with a warning; in a bound set they are refused.
func TestUnsignedManifestOnlyInLegacySets(t *testing.T) {
	f := newFixture(t)
	full := f.full(t, 10, "snapshot")
	m, err := f.set.manifest(context.Background(), full.Key)
	if err != nil {
		t.Fatal(err)
	}
	m.MAC = ""
	data, _ := json.Marshal(m)
	write(t, f.path(manifestKey(full.Key)), data)
	if _, err := f.set.ReadAll(context.Background(), full); !errors.Is(err, ErrMisplaced) {
		t.Fatalf("unsigned manifest in a bound set: %v, want ErrMisplaced", err)
	}

	var kf keyFile
	raw, _ := os.ReadFile(f.path(keyObject))
	if err := json.Unmarshal(raw, &kf); err != nil || kf.Format != formatBound {
		t.Fatalf("key record %s: %v; want format %d", raw, err, formatBound)
	}
	kf.Format = 0 // as the code before binding wrote it
	raw, _ = json.Marshal(kf)
	write(t, f.path(keyObject), raw)
	var logs bytes.Buffer
	legacy := NewAt(f.store, f.kms, f.set.Prefix())
	legacy.Logger = slog.New(slog.NewTextHandler(&logs, nil))
	got, err := legacy.ReadAll(context.Background(), full)
	if err != nil || string(got) != "snapshot" {
		t.Fatalf("unsigned manifest in a legacy set: %q, %v", got, err)
	}
	if !strings.Contains(logs.String(), "unsigned") {
		t.Fatalf("no warning logged: %q", logs.String())
	}
}

// Writers of one set starting at once agree on one data key: the losers of
// the conditional create read the winner's, and every object opens.
func TestConcurrentWritersShareOneDataKey(t *testing.T) {
	f := newFixture(t)
	ref := Ref{Namespace: "acct-1", Name: "race", UID: "uid-r"}
	var wg sync.WaitGroup
	entries := make([]Entry, 6)
	for i := range entries {
		wg.Go(func() {
			w := New(f.store, f.kms, ref)
			w.TempDir = t.TempDir()
			first := int64(10*i + 1)
			e, err := w.PutIncremental(context.Background(), first, first+9, time.Now(), fmt.Appendf(nil, "batch %d", i))
			if err != nil {
				t.Error(err)
			}
			entries[i] = e
		})
	}
	wg.Wait()
	reader := New(f.store, f.kms, ref)
	for i, e := range entries {
		got, err := reader.ReadAll(context.Background(), e)
		if err != nil || string(got) != fmt.Sprintf("batch %d", i) {
			t.Fatalf("object of writer %d: %q, %v; a writer sealed under an orphaned key", i, got, err)
		}
	}
}

// Dropping the newest objects of a set, data and manifest, leaves a catalog
// that looks whole; the head record tells a restore of the newest revision.
func TestDroppedNewestObjectsAreDetected(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	f.full(t, 10, "snapshot")
	f.incr(t, 11, 20)
	last := f.incr(t, 21, 30)
	plan, err := f.list(t).Latest()
	if err != nil || plan.Revision != 30 {
		t.Fatalf("plan = %+v, %v", plan, err)
	}
	if err := f.set.CheckPlan(ctx, plan, true); err != nil {
		t.Fatalf("CheckPlan of an intact set: %v", err)
	}
	for _, k := range []string{last.Key, manifestKey(last.Key)} {
		if err := os.Remove(f.path(k)); err != nil {
			t.Fatal(err)
		}
	}
	reader := NewAt(f.store, f.kms, f.set.Prefix()) // a restore, in another process
	plan, err = f.list(t).Latest()
	if err != nil || plan.Revision != 20 {
		t.Fatalf("plan after the drop = %+v, %v", plan, err)
	}
	err = reader.CheckPlan(ctx, plan, true)
	if !errors.Is(err, ErrTruncated) || !strings.Contains(err.Error(), last.Key) {
		t.Fatalf("CheckPlan after dropping %s: %v; want ErrTruncated naming it", last.ID(), err)
	}
	// A restore to a revision the remaining objects cover is still allowed.
	to, err := f.list(t).PlanTo(15)
	if err != nil {
		t.Fatal(err)
	}
	if err := reader.CheckPlan(ctx, to, false); err != nil {
		t.Fatalf("CheckPlan to revision 15: %v", err)
	}
}

func TestHeadRecordMissingOrForged(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	f.full(t, 10, "snapshot")
	f.incr(t, 11, 20)
	plan, err := f.list(t).Latest()
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := os.ReadFile(f.path(headObject))
	var h head
	if err := json.Unmarshal(raw, &h); err != nil || h.Revision != 20 {
		t.Fatalf("head = %s, %v; want revision 20", raw, err)
	}
	h.Revision = 5 // claims less was written, to hide a drop
	forged, _ := json.Marshal(h)
	write(t, f.path(headObject), forged)
	if err := NewAt(f.store, f.kms, f.set.Prefix()).CheckPlan(ctx, plan, true); !errors.Is(err, ErrMisplaced) {
		t.Fatalf("forged head: %v; want ErrMisplaced", err)
	}
	if err := os.Remove(f.path(headObject)); err != nil {
		t.Fatal(err)
	}
	if err := NewAt(f.store, f.kms, f.set.Prefix()).CheckPlan(ctx, plan, true); !errors.Is(err, ErrTruncated) {
		t.Fatalf("missing head in a bound set: %v; want ErrTruncated", err)
	}
}

// A full of an older revision stored after newer incrementals (an on-demand
// full beside the running tail) does not move the head back.
func TestHeadNeverMovesBack(t *testing.T) {
	f := newFixture(t)
	f.full(t, 10, "snapshot")
	f.incr(t, 11, 30)
	f.full(t, 25, "later snapshot")
	raw, _ := os.ReadFile(f.path(headObject))
	var h head
	if err := json.Unmarshal(raw, &h); err != nil || h.Revision != 30 {
		t.Fatalf("head = %s, %v; want revision 30", raw, err)
	}
}
