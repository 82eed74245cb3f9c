package backup

import (
	"bytes"
	"context"
	"fmt"
	"io"

	"github.com/cellplane/cellplane/internal/backup/envelope"
)

// secretsKeysObject holds the keys the cluster's KMS plugin sealed its
// Secrets with: a restore into another cluster needs them to read the
// Secrets, which stay sealed in the snapshots.
const secretsKeysObject = "secrets-keys"

// PutSecretsKeys stores keys (a cluster's keyset in the clear) sealed with the
// set's data key, like every other object of the set, replacing what was
// stored before. A cluster's keys are only ever added to, so the newest copy
// opens every backup of the set.
func (s *Set) PutSecretsKeys(ctx context.Context, keys []byte) error {
	key, err := s.dataKey(ctx, true)
	if err != nil {
		return err
	}
	var buf bytes.Buffer
	w := envelope.NewWriter(&buf, key, s.secretsKeysBinding())
	if _, err := w.Write(keys); err != nil {
		return fmt.Errorf("sealing the Secrets keys: %w", err)
	}
	if err := w.Close(); err != nil {
		return fmt.Errorf("sealing the Secrets keys: %w", err)
	}
	if err := s.putSmall(ctx, s.prefix+secretsKeysObject, buf.Bytes()); err != nil {
		return fmt.Errorf("storing the Secrets keys: %w", err)
	}
	return nil
}

// SecretsKeys returns what PutSecretsKeys stored; errdefs.ErrNotFound when
// the set has none (its cluster predates Secrets encryption).
func (s *Set) SecretsKeys(ctx context.Context) ([]byte, error) {
	data, err := s.getSmall(ctx, s.prefix+secretsKeysObject)
	if err != nil {
		return nil, fmt.Errorf("reading the Secrets keys: %w", err)
	}
	key, err := s.dataKey(ctx, false)
	if err != nil {
		return nil, err
	}
	var opts []envelope.ReaderOption
	if !s.bound {
		opts = append(opts, envelope.AcceptUnbound())
	}
	r, err := envelope.NewReader(bytes.NewReader(data), key, s.secretsKeysBinding(), opts...)
	if err != nil {
		return nil, fmt.Errorf("%w: the Secrets keys: %w", ErrCorrupt, err)
	}
	keys, err := io.ReadAll(r)
	if err != nil {
		return nil, fmt.Errorf("%w: the Secrets keys: %w", ErrCorrupt, err)
	}
	return keys, nil
}

// secretsKeysBinding binds the sealed keys to their set and name, like every
// other object of the set (binding.go): a copy from another set or cluster
// does not open.
func (s *Set) secretsKeysBinding() []byte {
	return []byte(bindingVersion + "\n" + s.prefix + secretsKeysObject)
}
