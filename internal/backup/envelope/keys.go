package envelope

import (
	"crypto/rand"
	"errors"
	"fmt"

	"github.com/cellplane/cellplane/internal/errdefs"
)

// DataKeySize is the length of data keys and key-encryption keys: AES-256.
const DataKeySize = 32

var (
	// ErrCorrupt: a stream or wrapped key was altered, truncated or extended, or is
	// not in this package's format.
	ErrCorrupt = errors.New("envelope corrupt")
	// ErrWrongKey: the key offered is not the one the data was sealed with.
	ErrWrongKey = errors.New("wrong key")
)

// NewDataKey returns a fresh random data key. A cluster's data key is made once,
// stored only wrapped by a KMS, and unwrapped to seal or open its backups.
func NewDataKey() []byte {
	k := make([]byte, DataKeySize)
	rand.Read(k) // never fails: crypto/rand crashes the program rather than return weak bytes
	return k
}

func checkKey(what string, key []byte) error {
	if len(key) != DataKeySize {
		return fmt.Errorf("%w: %s is %d bytes, want %d", errdefs.ErrInvalidParameter, what, len(key), DataKeySize)
	}
	return nil
}
