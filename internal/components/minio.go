package components

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"time"
)

// MinIOBinaries are the paths of the MinIO build.
type MinIOBinaries struct {
	Version string
	MinIO   string
}

// MinIO returns the MinIO server, building it if it is missing. Only tests and
// `cellplane components build --with-minio` ask for it; `cellplane up` runs no S3
// server, so Cached does not count it.
func (c *Cache) MinIO(ctx context.Context) (MinIOBinaries, error) {
	dir := filepath.Join(c.cfg.CacheDir, "minio-"+MinIOVersion)
	b := MinIOBinaries{Version: MinIOVersion, MinIO: filepath.Join(dir, "minio")}
	spec, err := minioBuild(MinIOVersion)
	if err != nil {
		return b, err
	}
	return b, c.ensure(ctx, dir, spec)
}

// minioBuild builds the server from the module root. The ldflags are what MinIO's
// own release script sets for a development build, derived from the pseudo-version;
// without them the server reports DEVELOPMENT.GOGET and dates itself by the binary.
func minioBuild(version string) (buildSpec, error) {
	when, commit, err := parsePseudoVersion(version)
	if err != nil {
		return buildSpec{}, err
	}
	const pkg = "github.com/minio/minio/cmd"
	ld := []string{
		"-X " + pkg + ".Version=" + when.Format(time.RFC3339),
		"-X " + pkg + ".ReleaseTag=DEVELOPMENT." + when.Format("2006-01-02T15-04-05Z"),
		"-X " + pkg + ".CopyrightYear=" + when.Format("2006"),
		"-X " + pkg + ".CommitID=" + commit,
		"-X " + pkg + ".ShortCommitID=" + commit,
	}
	return buildSpec{
		title:    "MinIO " + version + " (minio)",
		requires: []string{"github.com/minio/minio " + version},
		packages: []string{"github.com/minio/minio"},
		ldflags:  strings.Join(ld, " "),
	}, nil
}

// parsePseudoVersion splits "v0.0.0-20260212201848-7aac2a2c5b7c" into the commit's
// time and its 12-digit hash prefix.
func parsePseudoVersion(v string) (time.Time, string, error) {
	parts := strings.Split(v, "-")
	if len(parts) < 3 {
		return time.Time{}, "", fmt.Errorf("%q is not a pseudo-version", v)
	}
	stamp, commit := parts[len(parts)-2], parts[len(parts)-1]
	if i := strings.LastIndex(stamp, "."); i >= 0 { // v1.2.4-0.20060102150405-abc
		stamp = stamp[i+1:]
	}
	when, err := time.Parse("20060102150405", stamp)
	if err != nil || len(commit) != 12 || strings.Trim(commit, "0123456789abcdef") != "" {
		return time.Time{}, "", fmt.Errorf("%q is not a pseudo-version", v)
	}
	return when, commit, nil
}
