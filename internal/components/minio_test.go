package components

import (
	"context"
	"path/filepath"
	"slices"
	"testing"
	"time"
)

func TestParsePseudoVersion(t *testing.T) {
	for _, tc := range []struct {
		in     string
		when   string
		commit string
	}{
		{"v0.0.0-20260212201848-7aac2a2c5b7c", "2026-02-12T20:18:48Z", "7aac2a2c5b7c"},
		{"v1.2.4-0.20191109021931-daa7c04131f5", "2019-11-09T02:19:31Z", "daa7c04131f5"},
		{"v1.2.3-pre.0.20191109021931-daa7c04131f5", "2019-11-09T02:19:31Z", "daa7c04131f5"},
	} {
		when, commit, err := parsePseudoVersion(tc.in)
		if err != nil || when.Format(time.RFC3339) != tc.when || commit != tc.commit {
			t.Errorf("parsePseudoVersion(%q) = %v, %q, %v; want %s, %s", tc.in, when, commit, err, tc.when, tc.commit)
		}
	}
	for _, bad := range []string{"", "v1.2.3", "RELEASE.2025-09-07T16-13-09Z", "v0.0.0-2026021220-7aac2a2c5b7c", "v0.0.0-20260212201848-7AAC2A2C5B7C", "v0.0.0-20260212201848-7aac"} {
		if _, _, err := parsePseudoVersion(bad); err == nil {
			t.Errorf("parsePseudoVersion(%q) succeeded", bad)
		}
	}
}

func TestMinIOBuild(t *testing.T) {
	spec, err := minioBuild(MinIOVersion)
	if err != nil {
		t.Fatalf("MinIOVersion %s: %v", MinIOVersion, err)
	}
	if !slices.Equal(spec.requires, []string{"github.com/minio/minio " + MinIOVersion}) || spec.staging != "" {
		t.Errorf("requires = %q, staging = %q", spec.requires, spec.staging)
	}
	// Cache.MinIO hands out <dir>/minio; the build must make exactly that.
	if len(spec.packages) != 1 || binaryName(spec.packages[0]) != "minio" || len(spec.rename) != 0 {
		t.Errorf("packages = %q, rename = %v; want one binary named minio", spec.packages, spec.rename)
	}
	for _, want := range []string{
		"-X github.com/minio/minio/cmd.Version=2026-02-12T20:18:48Z",
		"-X github.com/minio/minio/cmd.ReleaseTag=DEVELOPMENT.2026-02-12T20-18-48Z",
		"-X github.com/minio/minio/cmd.CommitID=7aac2a2c5b7c",
	} {
		if !slices.Contains(xflags(spec.ldflags), want) {
			t.Errorf("ldflags %q lack %q", spec.ldflags, want)
		}
	}
}

func TestCacheReturnsCompleteMinIOWithoutBuilding(t *testing.T) {
	dir := t.TempDir()
	c := New(Config{CacheDir: dir, Go: failingGo})
	ctx := context.Background()
	if _, err := c.MinIO(ctx); err == nil {
		t.Fatal("MinIO built with a failing go command")
	}
	entry := filepath.Join(dir, "minio-"+MinIOVersion)
	markComplete(t, entry, "minio")
	b, err := c.MinIO(ctx)
	if err != nil {
		t.Fatalf("MinIO on a complete cache entry: %v", err)
	}
	if want := (MinIOBinaries{Version: MinIOVersion, MinIO: filepath.Join(entry, "minio")}); b != want {
		t.Fatalf("MinIO = %+v, want %+v", b, want)
	}
	// up needs no S3 server: a cache with only MinIO is not ready for it, and one
	// without MinIO may be.
	if c.Cached() {
		t.Fatal("Cached() counts MinIO in place of etcd and Kubernetes")
	}
}
