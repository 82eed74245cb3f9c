package datadir

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"

	"github.com/cellplane/cellplane/internal/backup"
	"github.com/cellplane/cellplane/internal/secretfile"
)

// backupConfigFile is the last backup configuration `cellplane up` ran with,
// for operator commands; it holds the S3 credentials, hence mode 0600, and is
// checksummed (internal/secretfile) so a damaged copy is refused, not misread.
func backupConfigFile(dataDir string) string { return filepath.Join(dataDir, "backup-config.json") }

// SaveBackupConfig records where the cells back up, for operator commands
// such as `cellplane backup list`, which run without the service.
func SaveBackupConfig(dataDir string, b backup.Config) error {
	data, err := json.MarshalIndent(b, "", "  ")
	if err != nil {
		return err
	}
	if err := secretfile.Write(backupConfigFile(dataDir), data); err != nil {
		return fmt.Errorf("saving backup configuration: %w", err)
	}
	return nil
}

// LoadBackupConfig reads the saved configuration; none means the default.
func LoadBackupConfig(dataDir string) (backup.Config, error) {
	var b backup.Config
	data, err := secretfile.Read(backupConfigFile(dataDir), func(content []byte) ([]byte, error) {
		// Written before checksums: plain JSON, valid or refused.
		return content, json.Unmarshal(content, &backup.Config{})
	})
	if errors.Is(err, fs.ErrNotExist) {
		return b, nil
	}
	if err == nil {
		err = json.Unmarshal(data, &b)
	}
	if err != nil {
		return b, fmt.Errorf("reading backup configuration: %w", err)
	}
	return b, nil
}

// BackupStorage is where dataDir's cells back up under configuration b.
func BackupStorage(dataDir string, b backup.Config) backup.Storage {
	return b.Storage(BackupsDir(dataDir))
}
