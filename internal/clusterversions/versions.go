package clusterversions

import (
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/cellplane/cellplane/internal/components"
	"github.com/cellplane/cellplane/internal/eks"
	"github.com/cellplane/cellplane/internal/errdefs"
	"github.com/cellplane/cellplane/internal/paging"
)

// Offered lists the offered Kubernetes releases, oldest first. It is a variable
// only so tests can offer more minors than components does today (upgrades need
// two); production code never assigns it.
var Offered = components.Releases

// Lookup finds the offered release for a minor ("1.35") or an exact version
// ("v1.35.4"), like components.Lookup but over Offered.
func Lookup(version string) (components.Release, bool) {
	for _, r := range Offered() {
		if version == r.Minor || version == r.Version {
			return r, true
		}
	}
	return components.Release{}, false
}

// Resolve maps the requested version (a minor or an exact release) to the minor
// stored, so "1.35" and "v1.35.4" are the same request. It checks against the
// components built, not Offered: a cluster is created only at a release this
// build can run.
func Resolve(version string) (string, error) {
	if version == "" {
		return components.Default().Minor, nil
	}
	release, err := components.Lookup(version)
	if err != nil {
		return "", errdefs.Publicf(errdefs.ErrInvalidParameter, "Kubernetes version %q is not supported. Supported versions: %s.", version, supportedMinors())
	}
	return release.Minor, nil
}

func supportedMinors() string {
	var minors []string
	for _, r := range components.Releases() {
		minors = append(minors, r.Minor)
	}
	return strings.Join(minors, ", ")
}

// Matching returns the offered versions, newest first, that pass the
// DescribeClusterVersions filters in q; platform is the platform version every
// cluster reports.
func Matching(q url.Values, platform string) ([]eks.ClusterVersion, error) {
	defaultOnly, err := parseBool(q, "defaultOnly")
	if err != nil {
		return nil, err
	}
	if _, err := parseBool(q, "includeAll"); err != nil {
		return nil, err
	}
	wanted := q["clusterVersions"]
	out := []eks.ClusterVersion{}
	for _, v := range wire(platform) {
		switch {
		case defaultOnly && !v.DefaultVersion,
			len(wanted) > 0 && !slices.Contains(wanted, v.ClusterVersion),
			!matches(q, "clusterType", v.ClusterType),
			!matches(q, "status", v.Status),
			!matches(q, "versionStatus", v.VersionStatus):
			continue
		}
		out = append(out, v)
	}
	return out, nil
}

// wire renders Offered newest first, the newest marked the default, each
// with its support dates and where today falls in them.
func wire(platform string) []eks.ClusterVersion {
	rs := Offered()
	now := Now()
	out := make([]eks.ClusterVersion, 0, len(rs))
	for i := len(rs) - 1; i >= 0; i-- {
		sup := SupportOf(rs[i])
		v := eks.ClusterVersion{
			ClusterVersion:         rs[i].Minor,
			ClusterType:            eks.ClusterTypeEKS,
			DefaultPlatformVersion: platform,
			DefaultVersion:         i == len(rs)-1,
			KubernetesPatchVersion: strings.TrimPrefix(rs[i].Version, "v"),
		}
		if !sup.Released.IsZero() {
			v.ReleaseDate = eks.NewTimestamp(sup.Released)
			v.EndOfStandardSupportDate = eks.NewTimestamp(sup.EndOfStandard)
			v.EndOfExtendedSupportDate = eks.NewTimestamp(sup.EndOfExtended)
		}
		v.VersionStatus = sup.Status(now)
		v.Status = eks.ClusterVersionStatusOf(v.VersionStatus)
		out = append(out, v)
	}
	return out
}

// After returns the index in all after the version a nextToken names.
func After(all []eks.ClusterVersion, token string) (int, error) {
	if token == "" {
		return 0, nil
	}
	if last, ok := paging.DecodeToken(token); ok {
		for i, v := range all {
			if v.ClusterVersion == last {
				return i + 1, nil
			}
		}
	}
	return 0, errdefs.Publicf(errdefs.ErrInvalidParameter, "The nextToken is not valid: pass the nextToken of a previous DescribeClusterVersions response unchanged, with the same filters.")
}

// matches reports whether the query's value for key, when given, equals v.
func matches(q url.Values, key, v string) bool {
	want := q.Get(key)
	return want == "" || want == v
}

func parseBool(q url.Values, key string) (bool, error) {
	v := q.Get(key)
	if v == "" {
		return false, nil
	}
	b, err := strconv.ParseBool(v)
	if err != nil {
		return false, errdefs.Publicf(errdefs.ErrInvalidParameter, "%s must be true or false; got %q.", key, v)
	}
	return b, nil
}
