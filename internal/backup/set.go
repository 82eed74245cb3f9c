package backup

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
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

// Set is one cluster's backups. It is safe for concurrent use, but only one
// writer per cluster may run at a time: two writers creating the data key at once
// would each seal objects the other's key cannot open.
type Set struct {
	store  objstore.Store
	kms    envelope.KMS
	prefix string
	// TempDir spools objects before upload; empty means os.TempDir().
	TempDir string

	mu  sync.Mutex
	key []byte
}

// New returns the set of ref in store, sealed with data keys wrapped by kms.
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
}

// dataKey returns the set's data key, creating and storing it first if create is
// set and there is none.
func (s *Set) dataKey(ctx context.Context, create bool) ([]byte, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.key != nil {
		return s.key, nil
	}
	key, err := s.loadKey(ctx)
	if errors.Is(err, errdefs.ErrNotFound) && create {
		key, err = s.createKey(ctx)
	}
	if err != nil {
		return nil, err
	}
	s.key = key
	return key, nil
}

func (s *Set) loadKey(ctx context.Context) ([]byte, error) {
	data, err := s.getSmall(ctx, s.prefix+keyObject)
	if err != nil {
		return nil, fmt.Errorf("reading data key: %w", err)
	}
	var kf keyFile
	if err := json.Unmarshal(data, &kf); err != nil {
		return nil, fmt.Errorf("%w: data key object: %w", ErrCorrupt, err)
	}
	key, err := s.kms.Unwrap(ctx, kf.Wrapped)
	if err != nil {
		return nil, fmt.Errorf("unwrapping data key (wrapped by %s): %w", kf.KMSKeyID, err)
	}
	return key, nil
}

func (s *Set) createKey(ctx context.Context) ([]byte, error) {
	key := envelope.NewDataKey()
	wrapped, err := s.kms.Wrap(ctx, key)
	if err != nil {
		return nil, fmt.Errorf("wrapping data key: %w", err)
	}
	data, err := json.Marshal(keyFile{KMSKeyID: s.kms.KeyID(), Wrapped: wrapped, Created: time.Now().UTC()})
	if err != nil {
		return nil, err
	}
	if err := s.putSmall(ctx, s.prefix+keyObject, data); err != nil {
		return nil, fmt.Errorf("storing data key: %w", err)
	}
	return key, nil
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
