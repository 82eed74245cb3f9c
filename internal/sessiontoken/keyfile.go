package sessiontoken

import (
	"crypto/rand"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/cellplane/cellplane/internal/secretfile"
)

// LoadOrCreateKey reads the key at path, creating it (0600, directory 0700)
// with KeySize random bytes if it does not exist. Two processes creating it
// at once both end with the winner's key.
func LoadOrCreateKey(path string) ([]byte, error) {
	key, err := LoadKey(path)
	if !errors.Is(err, fs.ErrNotExist) {
		return key, err
	}
	key = make([]byte, KeySize)
	if _, err := rand.Read(key); err != nil {
		return nil, fmt.Errorf("generating %s: %w", path, err)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("creating the directory of %s: %w", path, err)
	}
	if err := secretfile.Create(path, key); err != nil && !errors.Is(err, fs.ErrExist) {
		return nil, fmt.Errorf("writing %s: %w", path, err)
	}
	return LoadKey(path)
}

// LoadKey reads the key at path; a missing file wraps fs.ErrNotExist.
func LoadKey(path string) ([]byte, error) {
	key, err := secretfile.Read(path, func([]byte) ([]byte, error) {
		return nil, errors.New("a session key file always has a checksum")
	})
	if err != nil {
		return nil, err
	}
	if len(key) != KeySize {
		return nil, fmt.Errorf("%s: a session key is %d bytes, not %d", path, KeySize, len(key))
	}
	return key, nil
}
