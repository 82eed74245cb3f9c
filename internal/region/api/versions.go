package api

import (
	"encoding/base64"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/cellplane/cellplane/internal/components"
	"github.com/cellplane/cellplane/internal/eks"
	"github.com/cellplane/cellplane/internal/errdefs"
)

// releases lists the offered Kubernetes releases, oldest first. It is a variable
// only so tests can offer more minors than components does today (upgrades need
// two); production code never assigns it.
var releases = components.Releases

// lookupRelease finds the offered release for a minor ("1.35") or an exact
// version ("v1.35.4"), like components.Lookup but over releases.
func lookupRelease(version string) (components.Release, bool) {
	for _, r := range releases() {
		if version == r.Minor || version == r.Version {
			return r, true
		}
	}
	return components.Release{}, false
}

// describeClusterVersions serves DescribeClusterVersions: GET /cluster-versions,
// newest first. Every offered minor is in standard support; the EKS dates
// (release, end of support) are omitted because cellplane does not set them.
func (s *server) describeClusterVersions(r *http.Request) (any, error) {
	q := r.URL.Query()
	limit, err := parseLimit(q.Get("maxResults"), eks.MinVersionResults, eks.MaxVersionResults, eks.DefaultVersionResults)
	if err != nil {
		return nil, err
	}
	all, err := versionsMatching(q)
	if err != nil {
		return nil, err
	}
	start, err := versionsAfter(all, q.Get("nextToken"))
	if err != nil {
		return nil, err
	}
	end := min(start+limit, len(all))
	out := eks.DescribeClusterVersionsOutput{ClusterVersions: all[start:end]}
	if end < len(all) {
		out.NextToken = encodeToken(all[end-1].ClusterVersion)
	}
	return out, nil
}

// versionsMatching returns the offered versions, newest first, that pass the
// request's filters.
func versionsMatching(q url.Values) ([]eks.ClusterVersion, error) {
	defaultOnly, err := parseBool(q, "defaultOnly")
	if err != nil {
		return nil, err
	}
	if _, err := parseBool(q, "includeAll"); err != nil {
		return nil, err
	}
	wanted := q["clusterVersions"]
	out := []eks.ClusterVersion{}
	for _, v := range wireVersions() {
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

// wireVersions renders releases newest first, the newest marked the default.
func wireVersions() []eks.ClusterVersion {
	rs := releases()
	out := make([]eks.ClusterVersion, 0, len(rs))
	for i := len(rs) - 1; i >= 0; i-- {
		out = append(out, eks.ClusterVersion{
			ClusterVersion:         rs[i].Minor,
			ClusterType:            eks.ClusterTypeEKS,
			DefaultPlatformVersion: PlatformVersion,
			DefaultVersion:         i == len(rs)-1,
			Status:                 eks.VersionStatusStandardSupport,
			VersionStatus:          eks.VersionStatusStandardSupport,
			KubernetesPatchVersion: strings.TrimPrefix(rs[i].Version, "v"),
		})
	}
	return out
}

// versionsAfter returns the index after the version a nextToken names.
func versionsAfter(all []eks.ClusterVersion, token string) (int, error) {
	if token == "" {
		return 0, nil
	}
	raw, err := base64.RawURLEncoding.DecodeString(token)
	if last, ok := strings.CutPrefix(string(raw), tokenPrefix); err == nil && ok {
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

// parseLimit reads a maxResults parameter within [lo, hi], def when absent.
func parseLimit(v string, lo, hi, def int) (int, error) {
	if v == "" {
		return def, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < lo || n > hi {
		return 0, errdefs.Publicf(errdefs.ErrInvalidParameter, "maxResults must be an integer from %d to %d; got %q.", lo, hi, v)
	}
	return n, nil
}
