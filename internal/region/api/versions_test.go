package api

import (
	"encoding/json"
	"slices"
	"testing"
	"time"

	"github.com/cellplane/cellplane/internal/clusterversions"
	"github.com/cellplane/cellplane/internal/components"
	"github.com/cellplane/cellplane/internal/eks"
	"github.com/cellplane/cellplane/internal/paging"
)

// withReleases offers rs instead of components' releases for one test.
func withReleases(t *testing.T, rs ...components.Release) {
	t.Helper()
	old := clusterversions.Offered
	clusterversions.Offered = func() []components.Release { return append([]components.Release(nil), rs...) }
	t.Cleanup(func() { clusterversions.Offered = old })
}

func (r response) versions(t *testing.T) eks.DescribeClusterVersionsOutput {
	t.Helper()
	if r.status != 200 {
		t.Fatalf("status %d: %s", r.status, r.body)
	}
	var out eks.DescribeClusterVersionsOutput
	if err := json.Unmarshal(r.body, &out); err != nil {
		t.Fatalf("decoding %s: %v", r.body, err)
	}
	return out
}

func minorsOf(vs []eks.ClusterVersion) []string {
	var out []string
	for _, v := range vs {
		out = append(out, v.ClusterVersion)
	}
	return out
}

func TestDescribeClusterVersions(t *testing.T) {
	old := clusterversions.Now
	clusterversions.Now = func() time.Time { return time.Date(2026, time.December, 3, 0, 0, 0, 0, time.UTC) }
	t.Cleanup(func() { clusterversions.Now = old })
	h := newHarness(t)
	out := h.do("GET", "/cluster-versions", nil).versions(t)
	def := components.Default()
	if len(out.ClusterVersions) != len(components.Releases()) || out.NextToken != "" {
		t.Fatalf("got %+v", out)
	}
	v := out.ClusterVersions[0]
	if v.ClusterVersion != def.Minor || !v.DefaultVersion || v.ClusterType != "eks" || v.DefaultPlatformVersion != PlatformVersion ||
		v.Status != "standard-support" || v.VersionStatus != "STANDARD_SUPPORT" || "v"+v.KubernetesPatchVersion != def.Version ||
		v.ReleaseDate == nil || !v.ReleaseDate.Time().Equal(def.Released) ||
		!v.EndOfStandardSupportDate.Time().Equal(def.Released.AddDate(0, 14, 0)) || !v.EndOfExtendedSupportDate.Time().Equal(def.Released.AddDate(0, 26, 0)) {
		t.Fatalf("version %+v", v)
	}
	// 1.34, released 2025-08-27, left standard support on 2026-10-27.
	oldest := out.ClusterVersions[len(out.ClusterVersions)-1]
	if oldest.ClusterVersion != "1.34" || oldest.VersionStatus != "EXTENDED_SUPPORT" || oldest.Status != "extended-support" ||
		oldest.EndOfStandardSupportDate.Time().Format(time.DateOnly) != "2026-10-27" || oldest.EndOfExtendedSupportDate.Time().Format(time.DateOnly) != "2027-10-27" {
		t.Fatalf("1.34 %+v", oldest)
	}
	if got := minorsOf(h.do("GET", "/cluster-versions?versionStatus=EXTENDED_SUPPORT", nil).versions(t).ClusterVersions); !slices.Equal(got, []string{"1.34"}) {
		t.Errorf("in extended support: %v", got)
	}
}

func TestDescribeClusterVersionsFiltersAndPages(t *testing.T) {
	withReleases(t, components.Release{Minor: "1.34", Version: "v1.34.2"}, components.Release{Minor: "1.35", Version: "v1.35.4"}, components.Release{Minor: "1.36", Version: "v1.36.0"})
	h := newHarness(t)
	for _, tc := range []struct {
		query string
		want  []string
	}{
		{"", []string{"1.36", "1.35", "1.34"}},
		{"?defaultOnly=true", []string{"1.36"}},
		{"?clusterVersions=1.34&clusterVersions=1.35", []string{"1.35", "1.34"}},
		{"?clusterVersions=1.99", nil},
		{"?clusterType=eks&versionStatus=STANDARD_SUPPORT&status=standard-support&includeAll=true", []string{"1.36", "1.35", "1.34"}},
		{"?versionStatus=EXTENDED_SUPPORT", nil},
		{"?clusterType=eks-anywhere", nil},
	} {
		if got := minorsOf(h.do("GET", "/cluster-versions"+tc.query, nil).versions(t).ClusterVersions); !slices.Equal(got, tc.want) {
			t.Errorf("%q: got %v, want %v", tc.query, got, tc.want)
		}
	}
	var all []string
	token := ""
	for range 4 {
		out := h.do("GET", "/cluster-versions?maxResults=2&nextToken="+token, nil).versions(t)
		all = append(all, minorsOf(out.ClusterVersions)...)
		if token = out.NextToken; token == "" {
			break
		}
	}
	if !slices.Equal(all, []string{"1.36", "1.35", "1.34"}) {
		t.Fatalf("paged %v", all)
	}
}

func TestDescribeClusterVersionsInvalidParameters(t *testing.T) {
	h := newHarness(t)
	for _, q := range []string{"maxResults=0", "maxResults=101", "maxResults=x", "nextToken=garbage", "nextToken=" + paging.EncodeToken("1.99"), "defaultOnly=maybe", "includeAll=2x"} {
		h.do("GET", "/cluster-versions?"+q, nil).wantError(t, 400, eks.InvalidParameterException, "")
	}
	h.do("POST", "/cluster-versions", nil).wantError(t, 405, eks.ClientException, "not allowed")
}
