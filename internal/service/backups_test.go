package service

import (
	"errors"
	"os"
	"slices"
	"strings"
	"testing"
	"time"
)

func s3Backup() BackupConfig {
	return BackupConfig{S3Endpoint: "http://127.0.0.1:9000", S3Bucket: "b", S3Prefix: "p",
		S3AccessKeyID: "AKID", S3SecretAccessKey: "very-secret", FullInterval: 10 * time.Minute}
}

func TestBackupConfigKeepsSecretsOutOfArgs(t *testing.T) {
	b := s3Backup()
	args := strings.Join(b.args(), " ")
	if strings.Contains(args, "very-secret") || strings.Contains(args, "AKID") {
		t.Fatalf("args hold credentials: %s", args)
	}
	for _, want := range []string{"--backup-s3-bucket b", "--backup-s3-endpoint http://127.0.0.1:9000", "--backup-full-interval 10m0s"} {
		if !strings.Contains(args, want) {
			t.Errorf("args %q lack %q", args, want)
		}
	}
	env := b.withEnv([]string{"X=1", "PATH=/bin"})
	if !slices.Contains(env, "AWS_SECRET_ACCESS_KEY=very-secret") || !slices.Contains(env, "X=1") {
		t.Fatalf("env = %v", env)
	}
	if env := b.withEnv(nil); !slices.Contains(env, "AWS_ACCESS_KEY_ID=AKID") {
		t.Fatalf("env from nil = %v", env)
	}
}

func TestBackupConfigDefaultChangesNothing(t *testing.T) {
	var b BackupConfig
	if b.args() != nil || b.withEnv(nil) != nil {
		t.Fatalf("default backup config adds args %v or env %v: cells would restart", b.args(), b.withEnv(nil))
	}
	if err := b.Validate(); err != nil {
		t.Fatal(err)
	}
}

func TestBackupConfigValidate(t *testing.T) {
	for name, b := range map[string]BackupConfig{
		"no credentials":   {S3Bucket: "b"},
		"prefix no bucket": {S3Prefix: "p"},
		"bad endpoint":     {S3Bucket: "b", S3Endpoint: "ftp://x", S3AccessKeyID: "a", S3SecretAccessKey: "s"},
		"negative":         {FullInterval: -time.Second},
	} {
		if err := b.Validate(); !errors.Is(err, ErrInvalidConfig) {
			t.Errorf("%s: Validate = %v", name, err)
		}
	}
	if err := s3Backup().Validate(); err != nil {
		t.Fatal(err)
	}
}

func TestBackupConfigSavedPrivately(t *testing.T) {
	dir := t.TempDir()
	if err := saveBackupConfig(dir, s3Backup()); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(backupConfigFile(dir))
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("saved config: %v, %v", fi, err)
	}
	got, err := loadBackupConfig(dir)
	if err != nil || got != s3Backup() {
		t.Fatalf("loaded %+v, %v", got, err)
	}
	st := got.storage(dir)
	if st.S3 == nil || st.Location("clusters/a/b/u/") != "s3://b/p/clusters/a/b/u/" {
		t.Fatalf("storage = %+v, location %s", st, st.Location("clusters/a/b/u/"))
	}
}
