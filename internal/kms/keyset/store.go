package keyset

import (
	"context"
	"encoding/json"
	"fmt"
	"os"

	"github.com/cellplane/cellplane/internal/backup/envelope"
	"github.com/cellplane/cellplane/internal/pki"
)

// stored is a Set as it lies on disk: every key wrapped by the service's key.
type stored struct {
	WrappedBy string      `json:"wrappedBy"`
	Primary   string      `json:"primary"`
	Keys      []storedKey `json:"keys"`
}

type storedKey struct {
	ID      string `json:"id"`
	Wrapped []byte `json:"wrapped"`
}

// Save writes s to path (mode 0600, atomically), each key wrapped by kms.
func Save(ctx context.Context, path string, s Set, kms envelope.KMS) error {
	if err := s.Validate(); err != nil {
		return err
	}
	out := stored{WrappedBy: kms.KeyID(), Primary: s.Primary}
	for _, k := range s.Keys {
		w, err := kms.Wrap(ctx, k.Secret)
		if err != nil {
			return fmt.Errorf("wrapping key %s: %w", k.ID, err)
		}
		out.Keys = append(out.Keys, storedKey{ID: k.ID, Wrapped: w})
	}
	data, err := json.MarshalIndent(out, "", "  ")
	if err != nil {
		return err
	}
	if err := pki.WriteFileAtomic(path, data, 0o600); err != nil {
		return fmt.Errorf("writing keyset: %w", err)
	}
	return nil
}

// Load reads the keyset Save wrote, unwrapping every key with kms. A missing
// file wraps fs.ErrNotExist.
func Load(ctx context.Context, path string, kms envelope.KMS) (Set, error) {
	data, err := os.ReadFile(path) //nolint:gosec // G304: a cluster's keyset, under the cell's data directory
	if err != nil {
		return Set{}, fmt.Errorf("reading keyset: %w", err)
	}
	var st stored
	if err := json.Unmarshal(data, &st); err != nil {
		return Set{}, fmt.Errorf("%w: %s: %w", ErrInvalid, path, err)
	}
	s := Set{Primary: st.Primary}
	for _, k := range st.Keys {
		secret, err := kms.Unwrap(ctx, k.Wrapped)
		if err != nil {
			return Set{}, fmt.Errorf("unwrapping key %s (wrapped by %s): %w", k.ID, st.WrappedBy, err)
		}
		s.Keys = append(s.Keys, Key{ID: k.ID, Secret: secret})
	}
	if err := s.Validate(); err != nil {
		return Set{}, fmt.Errorf("%s: %w", path, err)
	}
	return s, nil
}
