package pki

import (
	"fmt"
	"os"
	"path/filepath"
)

// EnsureServiceAccountKey keeps dir/sa.key and dir/sa.pub, the signing key pair of
// an API server that is not a tenant's (cellplane's own stores).
func EnsureServiceAccountKey(dir string) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("creating %s: %w", dir, err)
	}
	return ensureSAKey(filepath.Join(dir, "sa.key"), filepath.Join(dir, "sa.pub"))
}
