package backup

import (
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/cellplane/cellplane/internal/backup/objstore"
)

// Catalog is what a listing found: only objects that have a manifest.
type Catalog struct {
	// Fulls by revision, oldest first, with their manifests read.
	Fulls []Entry
	// Incrementals by first revision, then last, oldest first. Their revisions
	// and size come from the listing; Created is the manifest's store time, and
	// SHA256 and Observed are filled in only by Open or Latest.
	Incrementals []Entry
	// Orphans are data objects without a manifest (an upload that did not
	// finish) and manifests without data, with when they were stored.
	Orphans []objstore.Object
}

// List reads the set's catalog with one listing and one read per full. It trusts
// only data objects whose manifest exists; incrementals are many, so their
// manifests are read only when needed.
func (s *Set) List(ctx context.Context) (Catalog, error) {
	objs, err := s.store.List(ctx, s.prefix)
	if err != nil {
		return Catalog{}, fmt.Errorf("listing backups: %w", err)
	}
	data, manifests := map[string]objstore.Object{}, map[string]objstore.Object{}
	for _, o := range objs {
		rel := strings.TrimPrefix(o.Key, s.prefix)
		if dk, ok := strings.CutSuffix(rel, manifestSuffix); ok {
			manifests[dk] = o
		} else if _, ok := parseKey(rel); ok {
			data[rel] = o
		}
	}
	var c Catalog
	for rel, o := range data {
		m, ok := manifests[rel]
		if !ok {
			c.Orphans = append(c.Orphans, o)
			continue
		}
		e, _ := parseKey(rel)
		e.Size, e.Created = o.Size, m.Modified
		if e.Kind == KindFull {
			if e, err = s.manifest(ctx, rel); err != nil {
				return Catalog{}, err
			}
			c.Fulls = append(c.Fulls, e)
		} else {
			c.Incrementals = append(c.Incrementals, e)
		}
	}
	for rel, m := range manifests {
		if _, ok := data[rel]; !ok {
			c.Orphans = append(c.Orphans, m)
		}
	}
	c.sort()
	return c, nil
}

func (c *Catalog) sort() {
	slices.SortFunc(c.Fulls, func(a, b Entry) int { return cmp.Compare(a.Revision, b.Revision) })
	slices.SortFunc(c.Incrementals, func(a, b Entry) int {
		return cmp.Or(cmp.Compare(a.First, b.First), cmp.Compare(a.Revision, b.Revision))
	})
	slices.SortFunc(c.Orphans, func(a, b objstore.Object) int { return strings.Compare(a.Key, b.Key) })
}

// Plan is what a restore needs: a full and the incrementals to replay after it,
// in order. Incrementals may overlap (a later full restarts the tail below where
// the previous chain ended); replaying skips revisions already applied, as
// etcdcare.Replay does.
type Plan struct {
	Full         Entry
	Incrementals []Entry
	// Revision is what the plan restores to: the target, or for the latest the
	// end of the chain.
	Revision int64
}

// Latest is the plan to the newest revision the set covers: the newest full and
// as much of a contiguous chain after it as there is.
func (c Catalog) Latest() (Plan, error) { return c.plan(0) }

// PlanTo is the plan to restore exactly revision target: the newest full at or
// before it and the contiguous chain of incrementals from there to target. The
// last incremental may go past target; a restore stops replaying at target.
func (c Catalog) PlanTo(target int64) (Plan, error) {
	if target <= 0 {
		return Plan{}, fmt.Errorf("%w: revision %d", ErrNoFull, target)
	}
	return c.plan(target)
}

func (c Catalog) plan(target int64) (Plan, error) {
	i := len(c.Fulls) - 1
	for i >= 0 && target > 0 && c.Fulls[i].Revision > target {
		i--
	}
	if i < 0 {
		return Plan{}, fmt.Errorf("%w at or before revision %d", ErrNoFull, target)
	}
	p := Plan{Full: c.Fulls[i], Revision: c.Fulls[i].Revision}
	p.Incrementals, p.Revision = chain(c.Incrementals, p.Revision, target)
	if target > 0 && p.Revision < target {
		return Plan{}, fmt.Errorf("%w: after the full at revision %d the incrementals reach %d, not %d", ErrGap, p.Full.Revision, p.Revision, target)
	}
	if target > 0 {
		p.Revision = target
	}
	return p, nil
}

// chain picks, greedily, the incrementals that extend cursor furthest while
// leaving no revision out, until target (zero: as far as they go). incs is sorted
// by First.
func chain(incs []Entry, cursor, target int64) ([]Entry, int64) {
	var out []Entry
	for i := 0; target == 0 || cursor < target; {
		best := -1
		for ; i < len(incs) && incs[i].First <= cursor+1; i++ {
			if incs[i].Revision > cursor && (best < 0 || incs[i].Revision > incs[best].Revision) {
				best = i
			}
		}
		if best < 0 {
			break
		}
		out = append(out, incs[best])
		cursor = incs[best].Revision
	}
	return out, cursor
}

// RecoveryPoint returns the Observed time of the newest entry a latest restore
// would reach, reading that one manifest.
func (s *Set) RecoveryPoint(ctx context.Context, p Plan) (time.Time, error) {
	last := p.Full
	if n := len(p.Incrementals); n > 0 {
		e, err := s.manifest(ctx, p.Incrementals[n-1].Key)
		if err != nil {
			return time.Time{}, err
		}
		last = e
	}
	return last.Observed, nil
}

// Open returns the decrypted, decompressed content of a backup. The stored
// bytes are checked against the manifest's size and SHA-256 as they stream, and
// the envelope authenticates every chunk; either failure is an error wrapping
// ErrCorrupt, returned in place of io.EOF at the latest. Callers must read to
// io.EOF and discard everything on error.
func (s *Set) Open(ctx context.Context, e Entry) (io.ReadCloser, error) {
	m, err := s.manifest(ctx, e.Key)
	if err != nil {
		return nil, err
	}
	key, err := s.dataKey(ctx, false)
	if err != nil {
		return nil, err
	}
	if err := s.checkManifest(key, m); err != nil {
		return nil, err
	}
	rc, err := s.store.Get(ctx, s.prefix+m.Key)
	if err != nil {
		return nil, fmt.Errorf("opening %s: %w", m.ID(), err)
	}
	cr := &checkedReader{r: rc, h: sha256.New(), want: m}
	pr, err := s.openEnvelope(cr, key, m)
	if errors.Is(err, ErrMisplaced) {
		_ = rc.Close() // the binding's error is the one to report
		return nil, fmt.Errorf("%s: %w", m.ID(), err)
	}
	if err != nil {
		err = cr.corrupt(err) // reads what is left, so before closing
		_ = rc.Close()        // the header's error is the one to report
		return nil, err
	}
	return &openReader{Reader: pr, cr: cr, c: rc}, nil
}

// ReadAll opens e and returns its whole content.
func (s *Set) ReadAll(ctx context.Context, e Entry) ([]byte, error) {
	rc, err := s.Open(ctx, e)
	if err != nil {
		return nil, err
	}
	defer func() { _ = rc.Close() }() // read only: ReadAll reports what went wrong
	return io.ReadAll(rc)
}

// checkedReader hashes the ciphertext as it is read.
type checkedReader struct {
	r    io.Reader
	h    hash.Hash
	n    int64
	want Entry
}

func (c *checkedReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.h.Write(p[:n])
	c.n += int64(n)
	return n, err
}

// finish drains what the decrypter did not read and compares size and checksum.
func (c *checkedReader) finish() error {
	if _, err := io.Copy(io.Discard, c); err != nil {
		return fmt.Errorf("reading %s: %w", c.want.ID(), err)
	}
	if got := hex.EncodeToString(c.h.Sum(nil)); c.n != c.want.Size || got != c.want.SHA256 {
		return fmt.Errorf("%w: %s is %d bytes with SHA-256 %s, its manifest says %d bytes with %s",
			ErrCorrupt, c.want.ID(), c.n, got, c.want.Size, c.want.SHA256)
	}
	return nil
}

// corrupt reports a failure to open the object, preferring a checksum
// mismatch over the envelope's error: it names the object as altered in
// storage rather than as sealed wrongly. Either wraps ErrCorrupt once.
func (c *checkedReader) corrupt(err error) error {
	if ferr := c.finish(); errors.Is(ferr, ErrCorrupt) {
		return ferr
	}
	return fmt.Errorf("%w: %s: %w", ErrCorrupt, c.want.ID(), err)
}

type openReader struct {
	io.Reader
	cr   *checkedReader
	c    io.Closer
	done bool
}

func (o *openReader) Read(p []byte) (int, error) {
	n, err := o.Reader.Read(p)
	switch {
	case err == io.EOF && !o.done:
		o.done = true
		if ferr := o.cr.finish(); ferr != nil {
			return n, ferr
		}
	case err != nil && err != io.EOF:
		return n, o.cr.corrupt(err)
	}
	return n, err
}

func (o *openReader) Close() error { return o.c.Close() }
