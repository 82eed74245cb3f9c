package secrets

import (
	"context"
	"fmt"
	"path/filepath"

	"github.com/cellplane/cellplane/internal/backup/envelope"
	"github.com/cellplane/cellplane/internal/controlplane"
	"github.com/cellplane/cellplane/internal/kms/keyset"
	"github.com/cellplane/cellplane/internal/kms/plugin"
)

// Keys is where the cell keeps its clusters' keysets and the service key that
// wraps them.
type Keys struct {
	// KMS wraps every cluster's keys; only the service holds its key.
	KMS envelope.KMS
}

// Open loads the service key from path (<data-dir>/keys/secrets-kek), making
// it on first use (mode 0600).
func Open(path string) (*Keys, error) {
	kms, err := envelope.NewLocalKMS(path)
	if err != nil {
		return nil, fmt.Errorf("loading the Secrets key-encryption key: %w", err)
	}
	return &Keys{KMS: kms}, nil
}

// Path is where the cluster in clusterDir keeps its wrapped keyset.
func Path(clusterDir string) string { return filepath.Join(clusterDir, "kms", "keyset.json") }

// Load returns the keys of the cluster in clusterDir, unwrapped; an error
// wrapping fs.ErrNotExist when it has none yet.
func (k *Keys) Load(ctx context.Context, clusterDir string) (keyset.Set, error) {
	return keyset.Load(ctx, Path(clusterDir), k.KMS)
}

// Save stores s as the keys of the cluster in clusterDir, wrapped.
func (k *Keys) Save(ctx context.Context, clusterDir string, s keyset.Set) error {
	return keyset.Save(ctx, Path(clusterDir), s, k.KMS)
}

// Encoded is the keys of the cluster in clusterDir as its KMS plugins take
// them (tenant.Layout.SecretsKeys); "" when it has none or they cannot be
// read, which the cluster's pass reports.
func (k *Keys) Encoded(clusterDir string) string {
	s, err := k.Load(context.Background(), clusterDir)
	if err != nil {
		return ""
	}
	v, err := plugin.EncodeKeyset(s)
	if err != nil {
		return ""
	}
	return v
}

// ForBackup is the cluster's keys in the clear, for its backup set to carry
// sealed (backups.Runner.SecretsKeys).
func (k *Keys) ForBackup(ctx context.Context, p *controlplane.Plan) ([]byte, error) {
	s, err := k.Load(ctx, p.Dir())
	if err != nil {
		return nil, err
	}
	return s.Marshal()
}
