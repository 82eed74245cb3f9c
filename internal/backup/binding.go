package backup

import (
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/cellplane/cellplane/internal/backup/envelope"
)

// How objects are bound to their cluster, set and position (format 2):
//
//   - Every data object's envelope is bound to "cellplane-backup v2" and the
//     set's prefix (clusters/<namespace>/<name>/<cluster UID>/), and an
//     incremental's also to its key, which names its revisions. A full's
//     revision is known only once its snapshot has streamed through the
//     envelope, so its position is bound by the manifest alone.
//   - Every manifest carries a MAC (HMAC-SHA256 under a key derived from the
//     set's data key) over the set's prefix and every field: kind, key,
//     revisions, size, SHA-256 of the ciphertext, KMS key and times. The
//     ciphertext's SHA-256 ties the object's bytes to that position.
//
// So an object or manifest renamed, swapped between positions, or copied from
// another set or cluster fails to restore with ErrMisplaced, and a truncated
// object with ErrCorrupt. Sets created before this format (their key record
// has no format) still restore: their unbound objects and unsigned manifests
// are read with a warning. In a set created with format 2 neither is accepted.
const (
	formatBound    = 2
	bindingVersion = "cellplane-backup v2"
	macInfo        = "cellplane backup manifest mac v2"
)

// ErrMisplaced: a backup object or manifest is not where it was written: it
// was renamed, swapped with another, or copied from another set or cluster.
var ErrMisplaced = fmt.Errorf("%w: not where it was written (renamed, swapped or copied from another set)", ErrCorrupt)

// binding is what the envelope of the data object key is bound to.
func (s *Set) binding(key string) []byte {
	b := bindingVersion + "\n" + s.prefix
	if e, ok := parseKey(key); ok && e.Kind == KindIncremental {
		b += key
	} else {
		b += fullDir
	}
	return []byte(b)
}

// manifestMAC is the MAC of e in this set under dataKey.
func (s *Set) manifestMAC(dataKey []byte, e Entry) (string, error) {
	mk, err := hkdf.Key(sha256.New, dataKey, nil, macInfo, sha256.Size)
	if err != nil {
		return "", fmt.Errorf("deriving manifest key: %w", err)
	}
	m := hmac.New(sha256.New, mk)
	fields := []string{s.prefix, string(e.Kind), e.Key, strconv.FormatInt(e.First, 10), strconv.FormatInt(e.Revision, 10),
		strconv.FormatInt(e.Size, 10), e.SHA256, e.KMSKeyID,
		strconv.FormatInt(e.Created.UnixNano(), 10), strconv.FormatInt(e.Observed.UnixNano(), 10)}
	for _, f := range fields {
		// Length-prefixed, so no two field lists encode alike.
		m.Write([]byte(strconv.Itoa(len(f)) + ":" + f))
	}
	return hex.EncodeToString(m.Sum(nil)), nil
}

// sign sets e.MAC.
func (s *Set) sign(dataKey []byte, e *Entry) error {
	e.MAC = ""
	mac, err := s.manifestMAC(dataKey, *e)
	e.MAC = mac
	return err
}

// checkManifest verifies m's MAC. An unsigned manifest passes only in a set
// created before binding, with a warning.
func (s *Set) checkManifest(dataKey []byte, m Entry) error {
	if m.MAC == "" {
		if s.bound {
			return fmt.Errorf("%w: manifest of %s is unsigned in a set whose manifests are all signed", ErrMisplaced, m.ID())
		}
		s.warn("backup manifest is unsigned (written before backups were bound to their place); its position is not verified", "object", s.prefix+m.Key)
		return nil
	}
	want, err := s.manifestMAC(dataKey, m)
	if err != nil {
		return err
	}
	if !hmac.Equal([]byte(want), []byte(m.MAC)) {
		return fmt.Errorf("%w: manifest of %s fails authentication in set %s", ErrMisplaced, m.ID(), strings.TrimSuffix(s.prefix, "/"))
	}
	return nil
}

// openEnvelope opens the ciphertext of e from r, bound to e's place. Objects
// sealed before binding open only in a set created before binding.
func (s *Set) openEnvelope(r io.Reader, dataKey []byte, e Entry) (*envelope.Reader, error) {
	var opts []envelope.ReaderOption
	if !s.bound {
		opts = append(opts, envelope.AcceptUnbound())
	}
	er, err := envelope.NewReader(r, dataKey, s.binding(e.Key), opts...)
	if errors.Is(err, envelope.ErrMisplaced) {
		return nil, fmt.Errorf("%w: %w", ErrMisplaced, err)
	}
	if err != nil {
		return nil, err
	}
	if !er.Bound() {
		s.warn("backup object is not bound to its place (written before backups were); its cluster and set are not verified", "object", s.prefix+e.Key)
	}
	return er, nil
}

func (s *Set) warn(msg string, args ...any) {
	if s.Logger != nil {
		s.Logger.Warn(msg, args...)
	}
}
