package api

import (
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/cellplane/cellplane/api/v1alpha1"
)

func TestFreshness(t *testing.T) {
	c := &v1alpha1.Cluster{ObjectMeta: metav1.ObjectMeta{Namespace: "acct-1", Name: "demo"}}
	key := objectKey(c)
	for _, tc := range []struct {
		name   string
		write  func(f *freshness)
		cached string
		want   bool
	}{
		{"nothing written", func(*freshness) {}, "5", true},
		{"nothing written, nothing cached", func(*freshness) {}, "", true},
		{"cache behind a write", func(f *freshness) { f.wrote(c, "10") }, "9", false},
		{"cache at the write", func(f *freshness) { f.wrote(c, "10") }, "10", true},
		{"cache past the write", func(f *freshness) { f.wrote(c, "10") }, "12", true},
		{"not cached after a create", func(f *freshness) { f.wrote(c, "10") }, "", false},
		{"delete needs a newer version", func(f *freshness) { f.wroteAfter(c, "10") }, "10", false},
		{"delete shown", func(f *freshness) { f.wroteAfter(c, "10") }, "11", true},
		{"two writes: the later counts", func(f *freshness) { f.wrote(c, "10"); f.wrote(c, "12") }, "11", false},
		{"an older mark never lowers it", func(f *freshness) { f.wrote(c, "12"); f.wrote(c, "10") }, "11", false},
		{"unparsable version reads live", func(f *freshness) { f.wrote(c, "abc") }, "99", false},
		{"unparsable cached version reads live", func(f *freshness) { f.wrote(c, "10") }, "x", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFreshness()
			tc.write(f)
			if got := f.satisfied(key, tc.cached); got != tc.want {
				t.Fatalf("satisfied(%q) = %t, want %t", tc.cached, got, tc.want)
			}
		})
	}
}

func TestFreshnessForgets(t *testing.T) {
	c := &v1alpha1.Cluster{ObjectMeta: metav1.ObjectMeta{Namespace: "acct-1", Name: "demo"}}
	f := newFreshness()
	f.wrote(c, "10")
	if !f.satisfied(objectKey(c), "10") || len(f.min) != 0 {
		t.Fatal("a satisfied mark is kept")
	}
	f.wrote(c, "20")
	f.min[objectKey(c)] = freshMark{rev: 20, at: time.Now().Add(-2 * freshWindow)}
	f.lastSweep = time.Time{}
	f.sweep(time.Now())
	if len(f.min) != 0 {
		t.Fatal("an expired mark survived the sweep")
	}
	var none *freshness
	none.wrote(c, "1")
	if !none.satisfied(objectKey(c), "") {
		t.Fatal("a nil freshness refuses reads")
	}
}
