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
	"io/fs"

	"github.com/cellplane/cellplane/internal/errdefs"
	"github.com/cellplane/cellplane/internal/secretfile"
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

// loadKEK reads the key file: 32 bytes under secretfile's checksummed header.
// A bare 32-byte file, as written before the header existed, is taken and
// rewritten with one; anything else is refused with an error naming the file.
func loadKEK(path string) ([]byte, error) {
	kek, err := secretfile.Read(path, func(content []byte) ([]byte, error) {
		return content, checkKEKSize(content)
	})
	if errors.Is(err, fs.ErrNotExist) {
		return nil, err
	}
	if err != nil {
		return nil, fmt.Errorf("%w: key-encryption key: %w", errdefs.ErrInvalidParameter, err)
	}
	if err := checkKEKSize(kek); err != nil {
		return nil, fmt.Errorf("%w: key-encryption key %s: %w", errdefs.ErrInvalidParameter, path, err)
	}
	return kek, nil
}

func checkKEKSize(kek []byte) error {
	if len(kek) != DataKeySize {
		return fmt.Errorf("holds %d bytes, want %d", len(kek), DataKeySize)
	}
	return nil
}

// createKEK writes a new key only if none exists: a crash never leaves a short
// key file, and of two processes racing to create the key both end up using
// the one that won.
func createKEK(path string) ([]byte, error) {
	kek := NewDataKey()
	err := secretfile.Create(path, kek)
	if errors.Is(err, fs.ErrExist) {
		return loadKEK(path)
	}
	if err != nil {
		return nil, fmt.Errorf("creating key-encryption key: %w", err)
	}
	return kek, nil
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
