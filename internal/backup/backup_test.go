package backup

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/cellplane/cellplane/internal/backup/envelope"
	"github.com/cellplane/cellplane/internal/backup/objstore"
)

type fixture struct {
	root  string
	store *objstore.Dir
	kms   *envelope.LocalKMS
	set   *Set
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	dir := t.TempDir()
	st, err := objstore.NewDir(filepath.Join(dir, "backups"))
	if err != nil {
		t.Fatal(err)
	}
	kms, err := envelope.NewLocalKMS(filepath.Join(dir, "keys", "backup-kek"))
	if err != nil {
		t.Fatal(err)
	}
	set := New(st, kms, Ref{Namespace: "acct-1", Name: "demo", UID: "uid-1"})
	set.TempDir = t.TempDir()
	return &fixture{root: st.Root(), store: st, kms: kms, set: set}
}

func (f *fixture) full(t *testing.T, rev int64, content string) Entry {
	t.Helper()
	e, err := f.set.PutFull(context.Background(), func(w io.Writer) (int64, error) {
		_, err := io.WriteString(w, content)
		return rev, err
	})
	if err != nil {
		t.Fatalf("PutFull(%d): %v", rev, err)
	}
	return e
}

func (f *fixture) incr(t *testing.T, first, last int64) Entry {
	t.Helper()
	e, err := f.set.PutIncremental(context.Background(), first, last, time.Now(), []byte(fmt.Sprintf("batch %d-%d", first, last)))
	if err != nil {
		t.Fatalf("PutIncremental(%d, %d): %v", first, last, err)
	}
	return e
}

func (f *fixture) list(t *testing.T) Catalog {
	t.Helper()
	c, err := f.set.List(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func ids(es []Entry) []string {
	var out []string
	for _, e := range es {
		out = append(out, e.ID())
	}
	return out
}

func TestRoundTripAndEncryption(t *testing.T) {
	f := newFixture(t)
	secret := strings.Repeat("configmap-secret-value ", 1000)
	full := f.full(t, 10, secret)
	inc := f.incr(t, 11, 12)
	c := f.list(t)
	if !slices.Equal(ids(c.Fulls), []string{"full/00000000000000000010"}) || !slices.Equal(ids(c.Incrementals), []string{"incr/00000000000000000011-00000000000000000012"}) {
		t.Fatalf("catalog = %v %v", ids(c.Fulls), ids(c.Incrementals))
	}
	if c.Fulls[0].SHA256 != full.SHA256 || c.Fulls[0].Size != full.Size || full.KMSKeyID != f.kms.KeyID() {
		t.Fatalf("listed full %+v, stored %+v", c.Fulls[0], full)
	}
	got, err := f.set.ReadAll(context.Background(), c.Fulls[0])
	if err != nil || string(got) != secret {
		t.Fatalf("ReadAll(full) = %d bytes, %v", len(got), err)
	}
	got, err = f.set.ReadAll(context.Background(), inc)
	if err != nil || string(got) != "batch 11-12" {
		t.Fatalf("ReadAll(incr) = %q, %v", got, err)
	}
	// No object on disk holds the plaintext.
	err = filepath.WalkDir(f.root, func(p string, d os.DirEntry, err error) error {
		if err != nil || !d.Type().IsRegular() {
			return err
		}
		b, err := os.ReadFile(p)
		if bytes.Contains(b, []byte("configmap-secret")) || bytes.Contains(b, []byte("batch 11")) {
			t.Errorf("%s holds plaintext", p)
		}
		return err
	})
	if err != nil {
		t.Fatalf("looking for plaintext: %v", err)
	}
}

func TestOpenDetectsTampering(t *testing.T) {
	f := newFixture(t)
	full := f.full(t, 10, strings.Repeat("x", 5000))
	p := filepath.Join(f.root, filepath.FromSlash(f.set.Prefix()+full.Key))
	b, _ := os.ReadFile(p)
	b[len(b)/2] ^= 1
	if err := os.WriteFile(p, b, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := f.set.ReadAll(context.Background(), full); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("ReadAll of a tampered object = %v, want ErrCorrupt", err)
	}
	// A swapped object that is itself well sealed fails the checksum.
	other := f.full(t, 20, "other")
	op := filepath.Join(f.root, filepath.FromSlash(f.set.Prefix()+other.Key))
	ob, _ := os.ReadFile(op)
	f.full(t, 30, "third")
	tp := filepath.Join(f.root, filepath.FromSlash(f.set.Prefix()+fullKey(30)))
	if err := os.WriteFile(tp, ob, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := f.set.ReadAll(context.Background(), Entry{Key: fullKey(30)}); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("ReadAll of a swapped object = %v, want ErrCorrupt", err)
	}
}

func TestListTrustsOnlyManifests(t *testing.T) {
	f := newFixture(t)
	f.full(t, 10, "a")
	// An upload that stopped before its manifest.
	body := []byte("partial")
	if err := f.store.Put(context.Background(), f.set.Prefix()+incrKey(11, 15), bytes.NewReader(body), int64(len(body))); err != nil {
		t.Fatal(err)
	}
	c := f.list(t)
	if len(c.Incrementals) != 0 || len(c.Orphans) != 1 {
		t.Fatalf("catalog = %+v", c)
	}
}

func TestDataKeyIsStoredWrappedAndReused(t *testing.T) {
	f := newFixture(t)
	f.full(t, 10, "a")
	b, err := os.ReadFile(filepath.Join(f.root, filepath.FromSlash(f.set.Prefix()+keyObject)))
	if err != nil || !bytes.Contains(b, []byte(f.kms.KeyID())) {
		t.Fatalf("key.json = %s, %v", b, err)
	}
	// A fresh Set (a new process) opens what the first sealed.
	again := NewAt(f.store, f.kms, f.set.Prefix())
	c, _ := again.List(context.Background())
	if got, err := again.ReadAll(context.Background(), c.Fulls[0]); err != nil || string(got) != "a" {
		t.Fatalf("ReadAll from a new Set = %q, %v", got, err)
	}
}

func TestPlan(t *testing.T) {
	e := func(first, last int64) Entry {
		return Entry{Kind: KindIncremental, First: first, Revision: last, Key: incrKey(first, last)}
	}
	full := func(rev int64) Entry { return Entry{Kind: KindFull, Revision: rev, Key: fullKey(rev)} }
	c := Catalog{
		Fulls: []Entry{full(10), full(25)},
		// 21-30 overlaps the chain of full 25, which starts at 26.
		Incrementals: []Entry{e(11, 15), e(16, 20), e(21, 30), e(31, 33), e(40, 41)},
	}
	for _, tc := range []struct {
		target   int64
		full     int64
		incs     []string
		revision int64
		err      error
	}{
		{0, 25, []string{"21-30", "31-33"}, 33, nil},
		{12, 10, []string{"11-15"}, 12, nil},
		{20, 10, []string{"11-15", "16-20"}, 20, nil},
		{24, 10, []string{"11-15", "16-20", "21-30"}, 24, nil},
		{25, 25, nil, 25, nil},
		{32, 25, []string{"21-30", "31-33"}, 32, nil},
		{35, 0, nil, 0, ErrGap},
		{5, 0, nil, 0, ErrNoFull},
	} {
		var p Plan
		var err error
		if tc.target == 0 {
			p, err = c.Latest()
		} else {
			p, err = c.PlanTo(tc.target)
		}
		if tc.err != nil {
			if !errors.Is(err, tc.err) {
				t.Errorf("plan(%d) error = %v, want %v", tc.target, err, tc.err)
			}
			continue
		}
		var got []string
		for _, i := range p.Incrementals {
			got = append(got, fmt.Sprintf("%d-%d", i.First, i.Revision))
		}
		if err != nil || p.Full.Revision != tc.full || !slices.Equal(got, tc.incs) || p.Revision != tc.revision {
			t.Errorf("plan(%d) = full %d, %v, rev %d, %v; want full %d, %v, rev %d", tc.target, p.Full.Revision, got, p.Revision, err, tc.full, tc.incs, tc.revision)
		}
	}
}

func TestRetentionDoomed(t *testing.T) {
	now := time.Now()
	full := func(rev int64, age time.Duration) Entry {
		return Entry{Kind: KindFull, Revision: rev, Key: fullKey(rev), Created: now.Add(-age)}
	}
	e := func(first, last int64) Entry {
		return Entry{Kind: KindIncremental, First: first, Revision: last, Key: incrKey(first, last)}
	}
	c := Catalog{
		Fulls:        []Entry{full(10, 50*time.Hour), full(20, 40*time.Hour), full(30, 30*time.Hour), full(40, 3*time.Hour), full(50, 2*time.Hour)},
		Incrementals: []Entry{e(11, 19), e(20, 25), e(26, 35), e(36, 45), e(46, 55)},
	}
	fulls, incs, _ := Retention{}.Doomed(c, now)
	// Kept: 50, 40 (newest three and within a day), 30 (third newest). Doomed: 10, 20.
	if got := ids(fulls); !slices.Equal(got, []string{"full/00000000000000000020", "full/00000000000000000010"}) {
		t.Errorf("doomed fulls = %v", got)
	}
	// 26-35 straddles the oldest kept full (30): full 30's chain needs 31..35.
	if got := ids(incs); !slices.Equal(got, []string{e(11, 19).ID(), e(20, 25).ID()}) {
		t.Errorf("doomed incrementals = %v", got)
	}
	fulls, _, _ = Retention{KeepFulls: 1, KeepWithin: time.Hour}.Doomed(c, now)
	if len(fulls) != 4 {
		t.Errorf("KeepFulls 1 dooms %v", ids(fulls))
	}
}

func TestGCDeletesAndKeepsChains(t *testing.T) {
	f := newFixture(t)
	for i, rev := range []int64{10, 20, 30, 40} {
		f.full(t, rev, fmt.Sprint(i))
		f.incr(t, rev+1, rev+9)
	}
	res, err := f.set.GC(context.Background(), Retention{KeepFulls: 2, KeepWithin: time.Nanosecond}, time.Now().Add(time.Second))
	if err != nil {
		t.Fatal(err)
	}
	c := f.list(t)
	if res.Fulls != 2 || res.Incrementals != 2 || len(c.Fulls) != 2 || c.Fulls[0].Revision != 30 || len(c.Incrementals) != 2 || c.Incrementals[0].First != 31 {
		t.Fatalf("after GC %+v: fulls %v incrementals %v", res, ids(c.Fulls), ids(c.Incrementals))
	}
	if p, err := c.Latest(); err != nil || p.Revision != 49 {
		t.Fatalf("latest after GC = %+v, %v", p, err)
	}
}

func TestPutFullSameRevisionKeepsVerifiedObject(t *testing.T) {
	f := newFixture(t)
	first := f.full(t, 10, "a")
	second := f.full(t, 10, "b")
	if second.SHA256 != first.SHA256 || !second.Created.After(first.Created) && !second.Created.Equal(first.Created) {
		t.Fatalf("second full at one revision = %+v, first %+v", second, first)
	}
	if got, err := f.set.ReadAll(context.Background(), second); err != nil || string(got) != "a" {
		t.Fatalf("ReadAll = %q, %v", got, err)
	}
}

func TestParseKeyRejectsStrangers(t *testing.T) {
	for _, k := range []string{"full/1.db.zst.enc", "incr/00000000000000000002-00000000000000000001.batch.enc", "key.json", "full/x"} {
		if _, ok := parseKey(k); ok {
			t.Errorf("parseKey(%q) accepted", k)
		}
	}
}
