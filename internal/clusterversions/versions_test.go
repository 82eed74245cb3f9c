package clusterversions

import (
	"errors"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/cellplane/cellplane/internal/components"
	"github.com/cellplane/cellplane/internal/eks"
	"github.com/cellplane/cellplane/internal/errdefs"
	"github.com/cellplane/cellplane/internal/paging"
)

func offer(t *testing.T, rs ...components.Release) {
	t.Helper()
	old := Offered
	Offered = func() []components.Release { return append([]components.Release(nil), rs...) }
	t.Cleanup(func() { Offered = old })
}

var three = []components.Release{{Minor: "1.34", Version: "v1.34.2"}, {Minor: "1.35", Version: "v1.35.4"}, {Minor: "1.36", Version: "v1.36.0"}}

func minors(vs []eks.ClusterVersion) []string {
	var out []string
	for _, v := range vs {
		out = append(out, v.ClusterVersion)
	}
	return out
}

func TestLookupByMinorOrVersion(t *testing.T) {
	offer(t, three...)
	for _, in := range []string{"1.35", "v1.35.4"} {
		if r, ok := Lookup(in); !ok || r.Version != "v1.35.4" {
			t.Errorf("Lookup(%q) = %v, %v", in, r, ok)
		}
	}
	for _, in := range []string{"", "1.33", "v1.35.3", "1.35.4"} {
		if r, ok := Lookup(in); ok {
			t.Errorf("Lookup(%q) found %v", in, r)
		}
	}
}

func TestResolveUsesBuiltComponents(t *testing.T) {
	def := components.Default()
	if got, err := Resolve(""); err != nil || got != def.Minor {
		t.Errorf("Resolve(\"\") = %q, %v; want %q", got, err, def.Minor)
	}
	if got, err := Resolve(def.Version); err != nil || got != def.Minor {
		t.Errorf("Resolve(%q) = %q, %v; want %q", def.Version, got, err, def.Minor)
	}
	// Offered is the catalogue shown; creating a cluster needs a built release.
	offer(t, components.Release{Minor: "1.99", Version: "v1.99.0"})
	_, err := Resolve("1.99")
	var pub *errdefs.PublicError
	if !errors.As(err, &pub) || !errors.Is(err, errdefs.ErrInvalidParameter) ||
		!strings.Contains(pub.Msg, `Kubernetes version "1.99" is not supported. Supported versions: `) || !strings.Contains(pub.Msg, def.Minor) {
		t.Errorf("Resolve(1.99) = %v", err)
	}
}

func TestMatchingNewestFirstWithFilters(t *testing.T) {
	offer(t, three...)
	all, err := Matching(url.Values{}, "p.1")
	if err != nil || !slices.Equal(minors(all), []string{"1.36", "1.35", "1.34"}) {
		t.Fatalf("Matching = %v, %v", minors(all), err)
	}
	if v := all[0]; !v.DefaultVersion || v.DefaultPlatformVersion != "p.1" || v.KubernetesPatchVersion != "1.36.0" || all[1].DefaultVersion {
		t.Errorf("newest rendered as %+v, next default %v", v, all[1].DefaultVersion)
	}
	for q, want := range map[string][]string{
		"defaultOnly=true":                          {"1.36"},
		"clusterVersions=1.34&clusterVersions=1.35": {"1.35", "1.34"},
		"status=EXTENDED_SUPPORT":                   nil,
		"clusterType=eks&includeAll=true":           {"1.36", "1.35", "1.34"},
	} {
		v, _ := url.ParseQuery(q)
		got, err := Matching(v, "p.1")
		if err != nil || !slices.Equal(minors(got), want) {
			t.Errorf("Matching(%s) = %v, %v; want %v", q, minors(got), err, want)
		}
	}
	for _, q := range []string{"defaultOnly=maybe", "includeAll=2x"} {
		v, _ := url.ParseQuery(q)
		if _, err := Matching(v, "p.1"); !errors.Is(err, errdefs.ErrInvalidParameter) || !strings.Contains(err.Error(), "must be true or false") {
			t.Errorf("Matching(%s) = %v", q, err)
		}
	}
}

func TestAfter(t *testing.T) {
	offer(t, three...)
	all, _ := Matching(url.Values{}, "p.1")
	if i, err := After(all, ""); err != nil || i != 0 {
		t.Errorf("After(\"\") = %d, %v", i, err)
	}
	if i, err := After(all, paging.EncodeToken("1.35")); err != nil || i != 2 {
		t.Errorf("After(1.35) = %d, %v", i, err)
	}
	for _, tok := range []string{"garbage", paging.EncodeToken("1.99")} {
		if _, err := After(all, tok); !errors.Is(err, errdefs.ErrInvalidParameter) || !strings.Contains(err.Error(), "The nextToken is not valid") {
			t.Errorf("After(%q) = %v", tok, err)
		}
	}
}
