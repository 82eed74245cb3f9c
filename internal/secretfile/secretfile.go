package secretfile

import (
	"bytes"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"

	"github.com/cellplane/cellplane/internal/pki"
)

// ErrCorrupt: a secret file is truncated, altered or not in a format we know.
var ErrCorrupt = errors.New("secret file corrupt")

// ErrExposed: a secret file may be read or written by group or others.
var ErrExposed = errors.New("secret file open to group or others")

// Mode is the only mode secret files are written with.
const Mode os.FileMode = 0o600

// header is "cellplane-secret v1 sha256=<64 hex digits>\n".
const (
	magic     = "cellplane-secret v1 sha256="
	headerLen = len(magic) + 2*sha256.Size + 1
	// maxSize bounds a read: these files hold a key or a small configuration.
	maxSize = 1 << 20
)

// Encode returns payload with its header.
func Encode(payload []byte) []byte {
	sum := sha256.Sum256(payload)
	out := make([]byte, 0, headerLen+len(payload))
	out = append(out, magic...)
	out = hex.AppendEncode(out, sum[:])
	out = append(out, '\n')
	return append(out, payload...)
}

// Decode checks data's header and checksum and returns the payload. ok is
// false when data has no header at all: a file written before this format.
func Decode(data []byte) (payload []byte, ok bool, err error) {
	if !bytes.HasPrefix(data, []byte(magic)) {
		return nil, false, nil
	}
	if len(data) < headerLen || data[headerLen-1] != '\n' {
		return nil, true, fmt.Errorf("%w: header is truncated", ErrCorrupt)
	}
	want, err := hex.DecodeString(string(data[len(magic) : headerLen-1]))
	if err != nil {
		return nil, true, fmt.Errorf("%w: header checksum is not hex", ErrCorrupt)
	}
	payload = data[headerLen:]
	got := sha256.Sum256(payload)
	if subtle.ConstantTimeCompare(got[:], want) != 1 {
		return nil, true, fmt.Errorf("%w: content does not match its SHA-256 (truncated or altered after it was written)", ErrCorrupt)
	}
	return payload, true, nil
}

// Write replaces path with payload, durably and atomically, mode 0600.
func Write(path string, payload []byte) error {
	if err := pki.WriteFileAtomic(path, Encode(payload), Mode); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	return nil
}

// Create writes payload to path only if path does not exist; it returns an
// error wrapping fs.ErrExist if it does, so racing creators can read the
// winner's secret.
func Create(path string, payload []byte) error {
	return pki.CreateFileAtomic(path, Encode(payload), Mode)
}

// Legacy validates the content of a file written before the header existed
// and returns the payload it stands for (usually the content itself).
type Legacy func(content []byte) ([]byte, error)

// Read returns the payload of path. A file without a header is passed to
// legacy and, if it is valid, rewritten with one, so a later truncation of it
// is caught too. Errors name the file; a missing file wraps fs.ErrNotExist.
func Read(path string, legacy Legacy) ([]byte, error) {
	data, err := readPrivate(path)
	if err != nil {
		return nil, err
	}
	payload, ok, err := Decode(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if ok {
		return payload, nil
	}
	payload, err = legacy(data)
	if err != nil {
		return nil, fmt.Errorf("%w: %s (written without a checksum) is not valid: %w", ErrCorrupt, path, err)
	}
	// Two processes migrating at once write the same bytes; either rename wins.
	if err := Write(path, payload); err != nil {
		return nil, fmt.Errorf("adding a checksum to %s: %w", path, err)
	}
	return payload, nil
}

// readPrivate reads path after checking, on the opened file, that it is a
// regular file no one but its owner may read or write.
func readPrivate(path string) ([]byte, error) {
	f, err := os.Open(path) //nolint:gosec // G304: cellplane's own key files, named by its data directory
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, err
		}
		return nil, fmt.Errorf("opening %s: %w", path, err)
	}
	defer func() { _ = f.Close() }() // read only: a failed read has been reported
	fi, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("checking %s: %w", path, err)
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("%w: %s is not a regular file", ErrCorrupt, path)
	}
	if perm := fi.Mode().Perm(); perm&0o077 != 0 {
		return nil, fmt.Errorf("%w: %s has mode %04o; refusing to use it (chmod 600 it if it was not exposed, else replace it)", ErrExposed, path, perm)
	}
	data, err := io.ReadAll(io.LimitReader(f, maxSize+1))
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", path, err)
	}
	if len(data) > maxSize {
		return nil, fmt.Errorf("%w: %s is larger than %d bytes", ErrCorrupt, path, maxSize)
	}
	return data, nil
}
