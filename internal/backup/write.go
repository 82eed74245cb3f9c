package backup

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/cellplane/cellplane/internal/backup/envelope"
	"github.com/cellplane/cellplane/internal/errdefs"
)

// PutFull stores a full snapshot: snapshot streams it into the writer it is given
// and returns the revision it covers. The snapshot is compressed, encrypted and
// spooled to a temporary file, uploaded, then read back whole and checked against
// its checksum; only then is its manifest written, so a listing never trusts a
// full that was not verified. Observed is the time just before snapshot ran.
func (s *Set) PutFull(ctx context.Context, snapshot func(io.Writer) (int64, error)) (Entry, error) {
	observed := time.Now()
	var rev int64
	sp, err := s.spool(ctx, s.binding(fullDir), func(w io.Writer) (err error) {
		rev, err = snapshot(w)
		return err
	})
	if err != nil {
		return Entry{}, err
	}
	defer sp.remove()
	e := Entry{Kind: KindFull, Key: fullKey(rev), Revision: rev, Observed: observed.UTC()}
	if old, err := s.manifest(ctx, e.Key); err == nil {
		// A full of this revision is already stored and verified; replacing its
		// data would leave its manifest describing other bytes until the new one
		// lands. It holds the same writes, so record it again as taken now.
		old.Created, old.Observed = time.Now().UTC(), e.Observed
		return old, s.putManifest(ctx, old)
	}
	if err := s.upload(ctx, sp, &e); err != nil {
		return Entry{}, err
	}
	if err := s.verify(ctx, e); err != nil {
		return Entry{}, err
	}
	return e, s.putManifest(ctx, e)
}

// PutIncremental stores one encoded batch of the revisions first to last, seen
// up to the time observed. Its size is checked after upload and its checksum is
// the one computed while spooling.
func (s *Set) PutIncremental(ctx context.Context, first, last int64, observed time.Time, batch []byte) (Entry, error) {
	if first <= 0 || last < first {
		return Entry{}, fmt.Errorf("%w: incremental revisions %d..%d", errdefs.ErrInvalidParameter, first, last)
	}
	key := incrKey(first, last)
	sp, err := s.spool(ctx, s.binding(key), func(w io.Writer) error {
		_, err := w.Write(batch)
		return err
	})
	if err != nil {
		return Entry{}, err
	}
	defer sp.remove()
	e := Entry{Kind: KindIncremental, Key: key, First: first, Revision: last, Observed: observed.UTC()}
	if err := s.upload(ctx, sp, &e); err != nil {
		return Entry{}, err
	}
	return e, s.putManifest(ctx, e)
}

// spooled is an encrypted object in a temporary file.
type spooled struct {
	f    *os.File
	size int64
	sum  string
}

// remove deletes the spool once the upload is decided either way; failing to
// leaves a temporary file behind, which changes nothing about the backup.
func (sp *spooled) remove() {
	_ = sp.f.Close()
	_ = os.Remove(sp.f.Name())
}

// spool seals what fill writes, bound to binding, into a temporary file.
func (s *Set) spool(ctx context.Context, binding []byte, fill func(io.Writer) error) (*spooled, error) {
	key, err := s.dataKey(ctx, true)
	if err != nil {
		return nil, err
	}
	f, err := os.CreateTemp(s.tempDir(), ".backup-spool-*")
	if err != nil {
		return nil, fmt.Errorf("creating spool file: %w", err)
	}
	sp := &spooled{f: f}
	hw := envelope.NewHashWriter(f)
	ew := envelope.NewWriter(hw, key, binding)
	err = fill(ew)
	if cerr := ew.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		_, err = f.Seek(0, io.SeekStart)
	}
	if err != nil {
		sp.remove()
		return nil, fmt.Errorf("spooling backup: %w", err)
	}
	sp.size, sp.sum = hw.Len(), hw.SumHex()
	return sp, nil
}

// upload puts the spooled object under e.Key and checks the stored size.
func (s *Set) upload(ctx context.Context, sp *spooled, e *Entry) error {
	e.Size, e.SHA256, e.KMSKeyID = sp.size, sp.sum, s.kms.KeyID()
	if err := s.store.Put(ctx, s.prefix+e.Key, sp.f, sp.size); err != nil {
		return fmt.Errorf("uploading %s: %w", e.ID(), err)
	}
	o, err := s.store.Stat(ctx, s.prefix+e.Key)
	if err != nil {
		return fmt.Errorf("checking %s after upload: %w", e.ID(), err)
	}
	if o.Size != e.Size {
		return fmt.Errorf("%w: %s stored as %d bytes, uploaded %d", ErrCorrupt, e.ID(), o.Size, e.Size)
	}
	e.Created = time.Now().UTC()
	return nil
}

// verify reads the stored object back and compares its checksum.
func (s *Set) verify(ctx context.Context, e Entry) error {
	rc, err := s.store.Get(ctx, s.prefix+e.Key)
	if err != nil {
		return fmt.Errorf("reading back %s: %w", e.ID(), err)
	}
	defer func() { _ = rc.Close() }() // read only: Copy reports what went wrong
	h := sha256.New()
	n, err := io.Copy(h, rc)
	if err != nil {
		return fmt.Errorf("reading back %s: %w", e.ID(), err)
	}
	if got := hex.EncodeToString(h.Sum(nil)); n != e.Size || got != e.SHA256 {
		return fmt.Errorf("%w: %s reads back as %d bytes with SHA-256 %s, stored %d bytes with %s", ErrCorrupt, e.ID(), n, got, e.Size, e.SHA256)
	}
	return nil
}

// putManifest signs e with the set's data key and stores it.
func (s *Set) putManifest(ctx context.Context, e Entry) error {
	key, err := s.dataKey(ctx, true)
	if err != nil {
		return err
	}
	if err := s.sign(key, &e); err != nil {
		return err
	}
	data, err := json.Marshal(e)
	if err != nil {
		return err
	}
	if err := s.putSmall(ctx, s.prefix+manifestKey(e.Key), data); err != nil {
		return fmt.Errorf("storing manifest of %s: %w", e.ID(), err)
	}
	return s.putHead(ctx, e)
}

// manifest reads the manifest of the data object key (relative to the set).
func (s *Set) manifest(ctx context.Context, key string) (Entry, error) {
	data, err := s.getSmall(ctx, s.prefix+manifestKey(key))
	if err != nil {
		return Entry{}, err
	}
	var e Entry
	if err := json.Unmarshal(data, &e); err != nil {
		return Entry{}, fmt.Errorf("%w: manifest of %s: %w", ErrCorrupt, key, err)
	}
	if want, ok := parseKey(key); !ok || e.Key != key || e.Kind != want.Kind || e.First != want.First || e.Revision != want.Revision {
		return Entry{}, fmt.Errorf("%w: manifest of %s describes %s", ErrCorrupt, key, e.Key)
	}
	return e, nil
}
