package region

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/cellplane/cellplane/internal/backup"
)

func s3Backup() backup.Config {
	return backup.Config{S3Endpoint: "http://127.0.0.1:9000", S3Bucket: "b", S3Prefix: "p",
		S3AccessKeyID: "AKID", S3SecretAccessKey: "very-secret", FullInterval: 10 * time.Minute}
}

// A process's arguments are world-readable (/proc/<pid>/cmdline): the
// credentials travel in the cell's environment instead, beside what the cell
// needs of cellplane's own.
func TestBackupConfigKeepsSecretsOutOfArgs(t *testing.T) {
	t.Setenv("PATH", "/bin")
	t.Setenv("HOME", "/home/op")
	b := s3Backup()
	args := strings.Join(backupArgs(b), " ")
	if strings.Contains(args, "very-secret") || strings.Contains(args, "AKID") {
		t.Fatalf("args hold credentials: %s", args)
	}
	for _, want := range []string{"--backup-s3-bucket b", "--backup-s3-endpoint http://127.0.0.1:9000", "--backup-full-interval 10m0s"} {
		if !strings.Contains(args, want) {
			t.Errorf("args %q lack %q", args, want)
		}
	}
	env := backupEnv(b)
	for _, want := range []string{"AWS_ACCESS_KEY_ID=AKID", "AWS_SECRET_ACCESS_KEY=very-secret", "PATH=/bin", "HOME=/home/op"} {
		if !slices.Contains(env, want) {
			t.Errorf("env %v lacks %s", env, want)
		}
	}
}

// The default configuration adds nothing to a cell's spec, so a cell that an
// earlier `up` started is adopted, not restarted.
func TestBackupConfigDefaultChangesNothing(t *testing.T) {
	var b backup.Config
	if backupArgs(b) != nil || backupEnv(b) != nil {
		t.Fatalf("default backup config adds args %v or env %v: cells would restart", backupArgs(b), backupEnv(b))
	}
	if err := b.Validate(); err != nil {
		t.Fatal(err)
	}
}

// A cell's command line is its process's identity: `up` with the default
// tuning and backups must run every cell exactly as before they were flags,
// or upgrading cellplane would restart every cell.
func TestCellSpecOfTheDefaults(t *testing.T) {
	c := cellProcs{cfg: Config{DataDir: "/data", CacheDir: "/cache", CreateTimeout: time.Minute}.withDefaults(), n: 2}
	spec := c.spec("/bin/cellplane", 2)
	want := []string{"cell", "run", "--data-dir", "/data", "--cell", "2", "--cache-dir", "/cache", "--create-timeout", "1m0s"}
	if spec.Path != "/bin/cellplane" || !slices.Equal(spec.Args, want) || spec.Env != nil {
		t.Fatalf("cell spec runs %s %q with env %v, want %q and no env", spec.Path, spec.Args, spec.Env, want)
	}
	if spec.ID != "cell-2/controllers" {
		t.Errorf("cell spec ID %q, want cell-2/controllers: the runtime adopts by ID", spec.ID)
	}
}
