package envelope

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/cellplane/cellplane/internal/errdefs"
)

// KMS wraps data keys under a key-encryption key it never hands out. Callers store
// only wrapped data keys, next to the KeyID that wrapped them.
type KMS interface {
	Wrap(ctx context.Context, plaintextKey []byte) (wrapped []byte, err error)
	// Unwrap returns the data key; a key wrapped by another KMS key wraps
	// ErrWrongKey, a damaged one ErrCorrupt.
	Unwrap(ctx context.Context, wrapped []byte) ([]byte, error)
	// KeyID names the key-encryption key, stably and without revealing it.
	KeyID() string
}

// LocalKMS keeps its key-encryption key in a local file and wraps with
// AES-256-GCM. It suits a single machine, where the key file is guarded like the
// PKI's private keys; a production KMS implements the same interface.
type LocalKMS struct {
	id   string
	aead cipher.AEAD
}

var _ KMS = (*LocalKMS)(nil)

// wrapVersion starts every wrapped key: version | len(key ID) | key ID | nonce |
// sealed data key. The key ID is also the additional data of the seal.
const wrapVersion = 1

// NewLocalKMS loads the key-encryption key from path, creating the file with a new
// random key (mode 0600, in a directory created 0700) if it does not exist. It
// refuses an existing file that group or others may read or write.
func NewLocalKMS(path string) (*LocalKMS, error) {
	kek, err := loadKEK(path)
	if errors.Is(err, fs.ErrNotExist) {
		kek, err = createKEK(path)
	}
	if err != nil {
		return nil, err
	}
	block, err := aes.NewCipher(kek)
	if err != nil {
		return nil, fmt.Errorf("creating key-encryption cipher: %w", err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, fmt.Errorf("creating key-encryption cipher: %w", err)
	}
	sum := sha256.Sum256(append([]byte("cellplane local kms key id\x00"), kek...))
	return &LocalKMS{id: "local:" + hex.EncodeToString(sum[:8]), aead: aead}, nil
}

// loadKEK reads the key file, checking its mode on the opened file so the check and
// the read see the same file.
func loadKEK(path string) ([]byte, error) {
	f, err := os.Open(path) //nolint:gosec // G304: the key file is cellplane's own, named by its configuration
	if err != nil {
		return nil, err
	}
	defer func() { _ = f.Close() }() // read only: a failed read has already been reported
	fi, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("reading key-encryption key: %w", err)
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("%w: key-encryption key %s is not a regular file", errdefs.ErrInvalidParameter, path)
	}
	if perm := fi.Mode().Perm(); perm&0o077 != 0 {
		return nil, fmt.Errorf("%w: key-encryption key %s has mode %04o, open to group or others; refusing to use it (chmod 600 it if it was not exposed, else replace it and re-wrap the data keys)",
			errdefs.ErrInvalidParameter, path, perm)
	}
	kek := make([]byte, DataKeySize+1)
	n, err := io.ReadFull(f, kek)
	if err != io.ErrUnexpectedEOF && err != io.EOF && err != nil {
		return nil, fmt.Errorf("reading key-encryption key: %w", err)
	}
	if n != DataKeySize {
		return nil, fmt.Errorf("%w: key-encryption key %s holds %s bytes, want %d", errdefs.ErrInvalidParameter, path, sizeString(n), DataKeySize)
	}
	return kek[:n], nil
}

func sizeString(n int) string {
	if n > DataKeySize {
		return fmt.Sprintf("more than %d", DataKeySize)
	}
	return fmt.Sprint(n)
}

// createKEK writes a new key to a temporary file and links it to path, which fails
// if path exists: a crash never leaves a short key file, and of two processes
// racing to create the key both end up using the one that won.
func createKEK(path string) ([]byte, error) {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("creating key directory: %w", err)
	}
	f, err := os.CreateTemp(dir, ".kek-*")
	if err != nil {
		return nil, fmt.Errorf("creating key-encryption key: %w", err)
	}
	// The temporary file is gone once renamed into place; removing it is only for
	// the failure paths, where the error that matters is already returned.
	defer func() { _ = os.Remove(f.Name()) }()
	kek := NewDataKey()
	_, err = f.Write(kek)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return nil, fmt.Errorf("writing key-encryption key: %w", err)
	}
	if err := os.Link(f.Name(), path); errors.Is(err, fs.ErrExist) {
		return loadKEK(path)
	} else if err != nil {
		return nil, fmt.Errorf("installing key-encryption key: %w", err)
	}
	if err := syncDir(dir); err != nil {
		return nil, err
	}
	return kek, nil
}

func syncDir(dir string) error {
	d, err := os.Open(dir) //nolint:gosec // G304: the directory of the key file, named by cellplane's configuration
	if err != nil {
		return fmt.Errorf("syncing key directory: %w", err)
	}
	defer func() { _ = d.Close() }() // the Sync is what counts; closing a directory read nothing
	if err := d.Sync(); err != nil {
		return fmt.Errorf("syncing key directory: %w", err)
	}
	return nil
}

// KeyID is "local:" and 16 hex digits of a hash of the key.
func (k *LocalKMS) KeyID() string { return k.id }

// Wrap seals a data key under a fresh random nonce.
func (k *LocalKMS) Wrap(_ context.Context, plaintextKey []byte) ([]byte, error) {
	if err := checkKey("data key to wrap", plaintextKey); err != nil {
		return nil, err
	}
	out := make([]byte, 0, 2+len(k.id)+k.aead.NonceSize()+len(plaintextKey)+k.aead.Overhead())
	out = append(out, wrapVersion, byte(len(k.id))) //nolint:gosec // G115: an id is "local:" and 16 hex digits, 22 bytes
	out = append(out, k.id...)
	nonce := make([]byte, k.aead.NonceSize())
	rand.Read(nonce)
	out = append(out, nonce...)
	return k.aead.Seal(out, nonce, plaintextKey, []byte(k.id)), nil
}

// Unwrap opens a key that Wrap sealed.
func (k *LocalKMS) Unwrap(_ context.Context, wrapped []byte) ([]byte, error) {
	if len(wrapped) < 2 || wrapped[0] != wrapVersion || len(wrapped) < 2+int(wrapped[1]) {
		return nil, fmt.Errorf("%w: wrapped data key has an unknown format", ErrCorrupt)
	}
	id, rest := string(wrapped[2:2+int(wrapped[1])]), wrapped[2+int(wrapped[1]):]
	if id != k.id {
		return nil, fmt.Errorf("%w: data key was wrapped by %q, this KMS holds %q", ErrWrongKey, id, k.id)
	}
	ns := k.aead.NonceSize()
	if len(rest) < ns+k.aead.Overhead() {
		return nil, fmt.Errorf("%w: wrapped data key is truncated", ErrCorrupt)
	}
	key, err := k.aead.Open(nil, rest[:ns], rest[ns:], []byte(k.id))
	if err != nil {
		return nil, fmt.Errorf("%w: wrapped data key fails authentication", ErrCorrupt)
	}
	if len(key) != DataKeySize {
		return nil, fmt.Errorf("%w: unwrapped data key is %d bytes", ErrCorrupt, len(key))
	}
	return key, nil
}
