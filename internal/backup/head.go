package backup

import (
	"context"
	"crypto/hmac"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/cellplane/cellplane/internal/errdefs"
)

// headObject records the newest object a set's writer stored, signed like a
// manifest. Without it, deleting the newest objects (data and manifest) of a
// set would make a restore of the newest revision silently stop short; with
// it, such a restore is refused (ErrTruncated). It is rewritten after every
// manifest, so it may lag one object behind after a crash, never run ahead.
// Replacing it with an older signed copy while deleting the objects after it
// is not detected: only a record outside the bucket could tell.
const headObject = "head.json"

// ErrTruncated: a set's newest objects were removed.
var ErrTruncated = fmt.Errorf("%w: the set's newest objects were removed (truncated)", ErrCorrupt)

// head is the set's newest object as its writer saw it.
type head struct {
	Key      string `json:"key"`
	Revision int64  `json:"revision"`
	MAC      string `json:"mac"`
}

func (s *Set) headMAC(dataKey []byte, h head) (string, error) {
	// A manifest's MAC over an entry no real object has (kind "head"), so a
	// head and a manifest can never stand in for each other.
	return s.manifestMAC(dataKey, Entry{Kind: "head", Key: h.Key, Revision: h.Revision})
}

// putHead records e as the newest object, unless the head already names a
// newer one (a full of an older revision may be stored after incrementals).
func (s *Set) putHead(ctx context.Context, e Entry) error {
	key, err := s.dataKey(ctx, true)
	if err != nil {
		return err
	}
	s.headMu.Lock()
	defer s.headMu.Unlock()
	if !s.headKnown {
		// Read once per writer; a missing or damaged head is simply replaced.
		if old, err := s.readHead(ctx, key); err == nil {
			s.headRev = old.Revision
		}
		s.headKnown = true
	}
	if s.headRev > e.Revision {
		return nil
	}
	h := head{Key: e.Key, Revision: e.Revision}
	if h.MAC, err = s.headMAC(key, h); err != nil {
		return err
	}
	data, err := json.Marshal(h)
	if err != nil {
		return err
	}
	if err := s.putSmall(ctx, s.prefix+headObject, data); err != nil {
		return fmt.Errorf("storing the set's head: %w", err)
	}
	s.headRev = e.Revision
	return nil
}

// readHead reads and authenticates the head; a missing one wraps
// errdefs.ErrNotFound.
func (s *Set) readHead(ctx context.Context, dataKey []byte) (head, error) {
	var h head
	data, err := s.getSmall(ctx, s.prefix+headObject)
	if err != nil {
		return h, err
	}
	if err := json.Unmarshal(data, &h); err != nil {
		return h, fmt.Errorf("%w: the set's head record: %w", ErrCorrupt, err)
	}
	want, err := s.headMAC(dataKey, h)
	if err != nil {
		return h, err
	}
	if !hmac.Equal([]byte(want), []byte(h.MAC)) {
		return h, fmt.Errorf("%w: the set's head record fails authentication", ErrMisplaced)
	}
	return h, nil
}

// CheckPlan verifies, before a restore touches anything, what can be checked
// cheaply: the full's manifest is authentic and in its place, and a plan to
// the newest revision reaches the newest object the writer recorded.
func (s *Set) CheckPlan(ctx context.Context, p Plan, latest bool) error {
	key, err := s.dataKey(ctx, false)
	if err != nil {
		return err
	}
	m, err := s.manifest(ctx, p.Full.Key)
	if err != nil {
		return err
	}
	if err := s.checkManifest(key, m); err != nil {
		return err
	}
	if !latest {
		return nil // a plan to a given revision fails with ErrGap if objects are missing
	}
	h, err := s.readHead(ctx, key)
	switch {
	case errors.Is(err, errdefs.ErrNotFound) && !s.bound:
		s.warn("backup set has no head record (written before backups recorded one); its newest objects are not checked", "set", s.prefix)
		return nil
	case errors.Is(err, errdefs.ErrNotFound):
		return fmt.Errorf("%w: its head record is missing", ErrTruncated)
	case err != nil:
		return err
	case p.Revision < h.Revision:
		return fmt.Errorf("%w: the writer stored %s (revision %d), but the backups from the newest full reach only revision %d",
			ErrTruncated, h.Key, h.Revision, p.Revision)
	}
	return nil
}
