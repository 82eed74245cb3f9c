package service

import (
	"fmt"
	"os"
	"path/filepath"

	"sigs.k8s.io/controller-runtime/pkg/manager"

	"github.com/cellplane/cellplane/internal/backup/envelope"
	cellctl "github.com/cellplane/cellplane/internal/cell"
)

// backupStorage opens the storage and key the cell backs up with; restores
// read their source's backups through the same.
func (cp *cellProcess) backupStorage() (*cellctl.RestoreStorage, error) {
	st := cp.cfg.Backup.storage(cp.cfg.DataDir)
	store, err := st.Open()
	if err != nil {
		return nil, fmt.Errorf("opening backup storage: %w", err)
	}
	kms, err := envelope.NewLocalKMS(BackupKEKFile(cp.cfg.DataDir))
	if err != nil {
		return nil, fmt.Errorf("loading backup key: %w", err)
	}
	return &cellctl.RestoreStorage{Storage: st, Store: store, KMS: kms}, nil
}

// setupBackups registers the cell's backup runner on its controller manager. All
// cells of a data directory share one storage location and one key-encryption
// key; each cluster's set lives under its own prefix.
func (cp *cellProcess) setupBackups(mgr manager.Manager, b *cellctl.RestoreStorage) error {
	// Spool files left by a crash are never resumed; this cell's lock makes it
	// the only process using the directory.
	spool := filepath.Join(cp.cell.dir, "backup-spool")
	if err := os.RemoveAll(spool); err != nil {
		return fmt.Errorf("clearing backup spool: %w", err)
	}
	if err := os.MkdirAll(spool, 0o700); err != nil {
		return fmt.Errorf("creating backup spool: %w", err)
	}
	return mgr.Add(&cellctl.BackupRunner{
		Client: mgr.GetClient(), Cell: cp.cell.plan, Dir: cp.cell.dir, Storage: b.Storage, Store: b.Store, KMS: b.KMS,
		SpoolDir: spool, Config: cellctl.BackupConfig{FullInterval: cp.cfg.Backup.FullInterval},
		Logger: cp.log.With("component", "backups"),
	})
}
