package datadir

import (
	"encoding/json"
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/cellplane/cellplane/internal/backup"
	"github.com/cellplane/cellplane/internal/secretfile"
)

func s3Backup() backup.Config {
	return backup.Config{S3Endpoint: "http://127.0.0.1:9000", S3Bucket: "b", S3Prefix: "p",
		S3AccessKeyID: "AKID", S3SecretAccessKey: "very-secret", FullInterval: 10 * time.Minute}
}

// The saved configuration holds the S3 credentials: only the data
// directory's owner may read it.
func TestBackupConfigSavedPrivately(t *testing.T) {
	dir := t.TempDir()
	if err := SaveBackupConfig(dir, s3Backup()); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(backupConfigFile(dir))
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("saved config: %v, %v", fi, err)
	}
	got, err := LoadBackupConfig(dir)
	if err != nil || got != s3Backup() {
		t.Fatalf("loaded %+v, %v", got, err)
	}
	st := BackupStorage(dir, got)
	if st.S3 == nil || st.Location("clusters/a/b/u/") != "s3://b/p/clusters/a/b/u/" {
		t.Fatalf("storage = %+v, location %s", st, st.Location("clusters/a/b/u/"))
	}
}

// Without a saved configuration (a data directory `up` never ran on with
// backups configured) backups go to the data directory.
func TestBackupConfigDefault(t *testing.T) {
	dir := t.TempDir()
	got, err := LoadBackupConfig(dir)
	if err != nil || got != (backup.Config{}) {
		t.Fatalf("loaded %+v, %v; want the zero configuration", got, err)
	}
	if st := BackupStorage(dir, got); st.S3 != nil || st.Dir != BackupsDir(dir) {
		t.Fatalf("storage = %+v, want the directory %s", st, BackupsDir(dir))
	}
}

// A configuration saved before checksums (bare JSON) is still read, and
// gains a checksum; a damaged one is refused with an error naming the file.
func TestBackupConfigMigratesAndDetectsDamage(t *testing.T) {
	dir := t.TempDir()
	legacy, err := json.Marshal(s3Backup())
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(backupConfigFile(dir), legacy, 0o600); err != nil {
		t.Fatal(err)
	}
	got, err := LoadBackupConfig(dir)
	if err != nil || got != s3Backup() {
		t.Fatalf("legacy config: %+v, %v", got, err)
	}
	data, err := os.ReadFile(backupConfigFile(dir))
	if err != nil {
		t.Fatal(err)
	}
	if _, ok, err := secretfile.Decode(data); !ok || err != nil {
		t.Fatalf("migrated config %q has no valid checksum: %v", data, err)
	}
	if err := os.WriteFile(backupConfigFile(dir), data[:len(data)-3], 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadBackupConfig(dir); !errors.Is(err, secretfile.ErrCorrupt) || !strings.Contains(err.Error(), backupConfigFile(dir)) {
		t.Fatalf("truncated config: %v; want ErrCorrupt naming the file", err)
	}
}
