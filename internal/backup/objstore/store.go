package objstore

import (
	"context"
	"fmt"
	"io"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/cellplane/cellplane/internal/errdefs"
)

// Store holds whole objects under keys. Implementations are safe for concurrent use.
type Store interface {
	// Put stores the size bytes of r under key, replacing any object there. Readers
	// see either the old object or the whole new one, never a part.
	Put(ctx context.Context, key string, r io.ReadSeeker, size int64) error
	// Create stores the size bytes of r under key only if no object is there,
	// atomically on the server (S3's If-None-Match: *), so of two writers racing
	// to create a record exactly one wins; the other gets an error wrapping
	// ErrExists and should read the winner's. Meant for small records: sizes
	// from the multipart threshold on are refused.
	Create(ctx context.Context, key string, r io.ReadSeeker, size int64) error
	// Get opens the object under key; a missing key wraps errdefs.ErrNotFound.
	Get(ctx context.Context, key string) (io.ReadCloser, error)
	// Stat describes the object under key; a missing key wraps errdefs.ErrNotFound.
	Stat(ctx context.Context, key string) (Object, error)
	// List returns the objects whose keys start with prefix, sorted by key.
	List(ctx context.Context, prefix string) ([]Object, error)
	// Delete removes the object under key; a missing key is not an error.
	Delete(ctx context.Context, key string) error
}

// ErrExists: Create found an object under its key.
var ErrExists = fmt.Errorf("object already exists: %w", errdefs.ErrAlreadyExists)

// Object describes one stored object.
type Object struct {
	Key      string
	Size     int64
	Modified time.Time
}

// MaxKeyLen is the longest key, in bytes: S3's limit.
const MaxKeyLen = 1024

// ValidateKey checks a key against the rules every Store applies. Keys are
// slash-separated paths relative to the store's root: they may not start with "/",
// contain empty, "." or ".." segments, NUL or invalid UTF-8, or exceed MaxKeyLen.
// The segment rules keep a directory-backed store from escaping its root or mapping
// two keys ("a//b", "a/b") to one file. Errors wrap errdefs.ErrInvalidParameter.
func ValidateKey(key string) error {
	if err := validatePath(key); err != nil {
		return err
	}
	for _, seg := range strings.Split(key, "/") {
		if seg == "" || seg == "." || seg == ".." {
			return fmt.Errorf("%w: object key %q has an empty, \".\" or \"..\" segment", errdefs.ErrInvalidParameter, key)
		}
	}
	return nil
}

// ValidatePrefix checks a List prefix: the rules of ValidateKey, except that a
// prefix may be empty, end with "/" or stop in the middle of a segment.
func ValidatePrefix(prefix string) error {
	if prefix == "" {
		return nil
	}
	if err := validatePath(prefix); err != nil {
		return err
	}
	segs := strings.Split(prefix, "/")
	for i, seg := range segs {
		last := i == len(segs)-1
		if (seg == "" && !last) || seg == "." || seg == ".." {
			return fmt.Errorf("%w: list prefix %q has an empty, \".\" or \"..\" segment", errdefs.ErrInvalidParameter, prefix)
		}
	}
	return nil
}

func validatePath(p string) error {
	switch {
	case p == "":
		return fmt.Errorf("%w: object key is empty", errdefs.ErrInvalidParameter)
	case len(p) > MaxKeyLen:
		return fmt.Errorf("%w: object key is %d bytes, longer than %d", errdefs.ErrInvalidParameter, len(p), MaxKeyLen)
	case strings.HasPrefix(p, "/"):
		return fmt.Errorf("%w: object key %q starts with \"/\"", errdefs.ErrInvalidParameter, p)
	case strings.ContainsRune(p, 0):
		return fmt.Errorf("%w: object key %q contains NUL", errdefs.ErrInvalidParameter, p)
	case !utf8.ValidString(p):
		return fmt.Errorf("%w: object key %q is not valid UTF-8", errdefs.ErrInvalidParameter, p)
	}
	return nil
}

func validateSize(key string, size int64) error {
	if size < 0 {
		return fmt.Errorf("%w: object %q has negative size %d", errdefs.ErrInvalidParameter, key, size)
	}
	return nil
}
