package backups

import (
	"context"
	"crypto/sha256"
	"fmt"
)

// saveSecretsKeys stores the cluster's keys for Secrets with its backups
// when they changed since this worker last stored them: a set whose Secrets
// cannot be opened restores nothing a tenant can read. Keys are only ever
// added, so the newest copy opens every backup in the set.
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
	if err := w.set.PutSecretsKeys(ctx, keys); err != nil {
		return err
	}
	w.secretsSum = sum
	return nil
}
