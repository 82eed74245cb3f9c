package backups

import (
	"context"
	"crypto/sha256"
	"fmt"

	"github.com/cellplane/cellplane/internal/kms/keyset"
)

// saveSecretsKeys stores the cluster's keys for Secrets with its backups
// when they changed since this worker last stored them: a set whose Secrets
// cannot be opened restores nothing a tenant can read. The keys already
// stored are kept beside the cluster's current ones, so a key the cluster
// retired after a rotation still opens the older backups.
func (w *worker) saveSecretsKeys(ctx context.Context) error {
	if w.r.SecretsKeys == nil {
		return nil
	}
	keys, err := w.r.SecretsKeys(ctx, w.plan)
	if err != nil {
		return fmt.Errorf("reading the cluster's keys for Secrets: %w", err)
	}
	sum := sha256.Sum256(keys)
	if sum == w.secretsSum {
		return nil
	}
	cur, err := keyset.Unmarshal(keys)
	if err != nil {
		return err
	}
	if stored, err := w.set.SecretsKeys(ctx); err == nil {
		// A stored copy that cannot be read is replaced rather than kept.
		if prev, err := keyset.Unmarshal(stored); err == nil {
			cur = cur.Merge(prev)
		}
	}
	data, err := cur.Marshal()
	if err != nil {
		return err
	}
	if err := w.set.PutSecretsKeys(ctx, data); err != nil {
		return err
	}
	w.secretsSum = sum
	return nil
}
