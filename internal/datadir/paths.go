package datadir

import (
	"path/filepath"
	"strconv"

	"k8s.io/client-go/rest"

	"github.com/cellplane/cellplane/internal/ipam"
	"github.com/cellplane/cellplane/internal/store"
)

// Profile is the AWS profile `cellplane up` writes for the first account.
const Profile = "cellplane"

// AWSConfigFile and AWSCredentialsFile are where that profile lives: point
// AWS_CONFIG_FILE and AWS_SHARED_CREDENTIALS_FILE at them.
func AWSConfigFile(dataDir string) string      { return filepath.Join(dataDir, "aws", "config") }
func AWSCredentialsFile(dataDir string) string { return filepath.Join(dataDir, "aws", "credentials") }

// RegionDir is a path under the region's directory.
func RegionDir(dataDir string, parts ...string) string {
	return filepath.Join(append([]string{dataDir, "region"}, parts...)...)
}

// RegionStoreDir holds the region's store: its data, certificates and logs.
func RegionStoreDir(dataDir string) string { return RegionDir(dataDir, "store") }

// MasterKeyFile holds the key that encrypts accounts' secret keys.
func MasterKeyFile(dataDir string) string { return RegionDir(dataDir, "keys", "master.key") }

// SessionRegionKeyFile holds the key that seals temporary credentials'
// secrets inside their session tokens; only the regional API reads it.
func SessionRegionKeyFile(dataDir string) string {
	return RegionDir(dataDir, "keys", "session-region.key")
}

// SessionCellKeyFile holds the key that seals the claims and STS signing keys
// of session tokens; the regional API and every cell read it.
func SessionCellKeyFile(dataDir string) string { return RegionDir(dataDir, "keys", "session-cell.key") }

// BackupKEKFile holds the key-encryption key of a data directory's backups.
func BackupKEKFile(dataDir string) string { return filepath.Join(dataDir, "keys", "backup-kek") }

// SecretsKEKFile holds the key that wraps every tenant cluster's keys for
// Secrets (their KMS plugins' keys).
func SecretsKEKFile(dataDir string) string { return filepath.Join(dataDir, "keys", "secrets-kek") }

// BackupsDir is where backups go without S3.
func BackupsDir(dataDir string) string { return filepath.Join(dataDir, "backups") }

// CellName is the name of cell k.
func CellName(k int) string { return "cell-" + strconv.Itoa(k) }

// CellDir is cell k's directory: its store, load balancer, clusters and state.
func CellDir(dataDir string, k int) string { return filepath.Join(dataDir, "cells", CellName(k)) }

// CellLogFile is where cell k's controllers log.
func CellLogFile(dataDir string, k int) string {
	return filepath.Join(CellDir(dataDir, k), "controllers.log")
}

// RegionStore is the region store's admin configuration, read from the data
// directory: a cell or an operator command needs nothing from the region's
// process to reach it.
func RegionStore(dataDir string, b ipam.Block) *rest.Config {
	return store.AdminConfig(RegionStoreDir(dataDir), b.RegionIP())
}
