package backup

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path"
	"sync"
	"time"

	"github.com/cellplane/cellplane/internal/backup/envelope"
	"github.com/cellplane/cellplane/internal/backup/objstore"
	"github.com/cellplane/cellplane/internal/errdefs"
)

// ErrCorrupt: a stored object does not match its manifest, or fails decryption.
var ErrCorrupt = fmt.Errorf("backup object corrupt: %w", errdefs.ErrInvalidParameter)

// ErrGap: the incrementals after a full do not reach the revision asked for.
var ErrGap = fmt.Errorf("backup chain has a gap: %w", errdefs.ErrNotFound)

// ErrNoFull: no full snapshot old enough for the revision asked for.
var ErrNoFull = fmt.Errorf("no full backup: %w", errdefs.ErrNotFound)

// Ref names the cluster a set belongs to. The UID keeps the sets of a deleted
// cluster and of a new one with the same name apart.
type Ref struct{ Namespace, Name, UID string }

// ClusterPrefix is where every set of the cluster named ns/name lives, whatever
// its UID.
func ClusterPrefix(ns, name string) string { return path.Join("clusters", ns, name) + "/" }

// Prefix is the set's folder in the store.
func (r Ref) Prefix() string { return ClusterPrefix(r.Namespace, r.Name) + r.UID + "/" }

// Set is one cluster's backups. It is safe for concurrent use. The data key is
// created with a conditional put (objstore.Store.Create), so two writers
// starting at once end up with the same key rather than one orphaning the
// other's objects.
type Set struct {
	store  objstore.Store
	kms    envelope.KMS
	prefix string
	// TempDir spools objects before upload; empty means os.TempDir().
	TempDir string
	// Logger receives warnings, such as restoring objects written before
	// backups were bound to their place; nil discards them.
	Logger *slog.Logger

	mu  sync.Mutex
	key []byte
	// bound: the set's key record says format 2, so every object in it is
	// bound and every manifest signed (binding.go).
	bound bool

	// headMu orders head updates; headRev is the newest revision the head
	// names, once read (headKnown).
	headMu    sync.Mutex
	headRev   int64
	headKnown bool
}

// New returns the set of ref in store, sealed with data keys wrapped by kms.
// Several writers may start at once: the data key is created with a
// conditional put, and the writers that lose the race read the winner's.
func New(store objstore.Store, kms envelope.KMS, ref Ref) *Set {
	return &Set{store: store, kms: kms, prefix: ref.Prefix()}
}

// NewAt returns the set kept under prefix (ending in "/"), as found by listing a
// cluster's prefix.
func NewAt(store objstore.Store, kms envelope.KMS, prefix string) *Set {
	return &Set{store: store, kms: kms, prefix: prefix}
}

// Prefix is the set's folder in the store.
func (s *Set) Prefix() string { return s.prefix }

const keyObject = "key.json"

// keyFile is the data key as stored: wrapped by the KMS key it names.
type keyFile struct {
	KMSKeyID string    `json:"kmsKeyID"`
	Wrapped  []byte    `json:"wrappedKey"`
	Created  time.Time `json:"created"`
	// Format is formatBound for sets whose every object is bound to its place;
	// zero for sets created before.
	Format int `json:"format,omitempty"`
}

// dataKey returns the set's data key, creating and storing it first if create is
// set and there is none.
func (s *Set) dataKey(ctx context.Context, create bool) ([]byte, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.key != nil {
		return s.key, nil
	}
	kf, key, err := s.loadKey(ctx)
	if errors.Is(err, errdefs.ErrNotFound) && create {
		kf, key, err = s.createKey(ctx)
	}
	if err != nil {
		return nil, err
	}
	s.key, s.bound = key, kf.Format >= formatBound
	return key, nil
}

func (s *Set) loadKey(ctx context.Context) (keyFile, []byte, error) {
	var kf keyFile
	data, err := s.getSmall(ctx, s.prefix+keyObject)
	if err != nil {
		return kf, nil, fmt.Errorf("reading data key: %w", err)
	}
	if err := json.Unmarshal(data, &kf); err != nil {
		return kf, nil, fmt.Errorf("%w: data key object: %w", ErrCorrupt, err)
	}
	key, err := s.kms.Unwrap(ctx, kf.Wrapped)
	if err != nil {
		return kf, nil, fmt.Errorf("unwrapping data key (wrapped by %s): %w", kf.KMSKeyID, err)
	}
	return kf, key, nil
}

// createKey stores a new data key only if the set has none. A writer that
// loses the race to another gets ErrExists from the store, says so, and reads
// the winner's key: both then seal under one key.
func (s *Set) createKey(ctx context.Context) (keyFile, []byte, error) {
	key := envelope.NewDataKey()
	wrapped, err := s.kms.Wrap(ctx, key)
	if err != nil {
		return keyFile{}, nil, fmt.Errorf("wrapping data key: %w", err)
	}
	kf := keyFile{KMSKeyID: s.kms.KeyID(), Wrapped: wrapped, Created: time.Now().UTC(), Format: formatBound}
	data, err := json.Marshal(kf)
	if err != nil {
		return keyFile{}, nil, err
	}
	err = s.store.Create(ctx, s.prefix+keyObject, bytes.NewReader(data), int64(len(data)))
	if errors.Is(err, objstore.ErrExists) {
		s.warn("another writer created this backup set's data key first; using its key", "set", s.prefix)
		return s.loadKey(ctx)
	}
	if err != nil {
		return keyFile{}, nil, fmt.Errorf("storing data key: %w", err)
	}
	return kf, key, nil
}

// maxSmall bounds what getSmall reads: manifests and key files are tiny.
const maxSmall = 1 << 20

func (s *Set) getSmall(ctx context.Context, key string) ([]byte, error) {
	rc, err := s.store.Get(ctx, key)
	if err != nil {
		return nil, err
	}
	defer func() { _ = rc.Close() }() // read only: ReadAll reports what went wrong
	return io.ReadAll(io.LimitReader(rc, maxSmall))
}

func (s *Set) putSmall(ctx context.Context, key string, data []byte) error {
	return s.store.Put(ctx, key, bytes.NewReader(data), int64(len(data)))
}

func (s *Set) tempDir() string {
	if s.TempDir != "" {
		return s.TempDir
	}
	return os.TempDir()
}
