package components

import (
	"errors"
	"fmt"
	"strings"
	"time"
)

// ErrUnknownVersion is returned for a Kubernetes version cellplane does not offer.
var ErrUnknownVersion = errors.New("unsupported Kubernetes version")

// Release is one Kubernetes minor that cellplane offers, pinned to a patch.
type Release struct {
	Minor   string // "1.35", what tenants ask for
	Version string // "v1.35.4", the module version built
	// Released is the day upstream released the minor (its k8s.io/api v0.N.0
	// on the module proxy); support windows count from it.
	Released time.Time
	// Etcd is the etcd release the minor's control planes run: one the minor
	// supports (upstream's hack/lib/etcd.sh names 3.6 for 1.34-1.36 and 3.7
	// for 1.37, which supports 3.6 too). Every minor shares EtcdVersion today,
	// so an upgrade never has to move etcd as well.
	Etcd string
}

// releases lists the offered Kubernetes minors, oldest first, each at the
// newest patch the Go module proxy serves. Adding a minor is one line here plus
// `make components-sum` to record its module checksums.
var releases = []Release{
	{Minor: "1.34", Version: "v1.34.4", Released: day(2025, time.August, 27), Etcd: EtcdVersion},
	{Minor: "1.35", Version: "v1.35.4", Released: day(2025, time.December, 17), Etcd: EtcdVersion},
	{Minor: "1.36", Version: "v1.36.3", Released: day(2026, time.April, 22), Etcd: EtcdVersion},
	{Minor: "1.37", Version: "v1.37.2", Released: day(2026, time.August, 26), Etcd: EtcdVersion},
}

func day(y int, m time.Month, d int) time.Time { return time.Date(y, m, d, 0, 0, 0, 0, time.UTC) }

// EtcdVersion is the etcd release every control plane and store runs.
const EtcdVersion = "v3.6.16"

// MinIOVersion is the github.com/minio/minio module built as the S3 server of the
// end-to-end tests. MinIO tags no semver releases, so this is a pseudo-version:
// the repository's last commit (2026-02-12) before upstream stopped maintaining it.
const MinIOVersion = "v0.0.0-20260212201848-7aac2a2c5b7c"

// Releases returns the offered Kubernetes releases, oldest first.
func Releases() []Release { return append([]Release(nil), releases...) }

// Default returns the release a cluster gets when it asks for no version: the newest.
func Default() Release { return releases[len(releases)-1] }

// Lookup finds the release for a minor ("1.35") or an exact version ("v1.35.4").
func Lookup(version string) (Release, error) {
	for _, r := range releases {
		if version == r.Minor || version == r.Version {
			return r, nil
		}
	}
	return Release{}, fmt.Errorf("%w %q: supported versions are %s", ErrUnknownVersion, version, strings.Join(minors(), ", "))
}

func minors() []string {
	out := make([]string, len(releases))
	for i, r := range releases {
		out[i] = r.Minor
	}
	return out
}
