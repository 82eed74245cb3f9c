package freshness

import (
	"testing"
	"time"

	"sigs.k8s.io/controller-runtime/pkg/client"
)

func TestFreshness(t *testing.T) {
	key := client.ObjectKey{Namespace: "acct-1", Name: "demo"}
	for _, tc := range []struct {
		name   string
		write  func(f *Tracker)
		cached string
		want   bool
	}{
		{"nothing written", func(*Tracker) {}, "5", true},
		{"nothing written, nothing cached", func(*Tracker) {}, "", true},
		{"cache behind a write", func(f *Tracker) { f.Wrote(key, "10") }, "9", false},
		{"cache at the write", func(f *Tracker) { f.Wrote(key, "10") }, "10", true},
		{"cache past the write", func(f *Tracker) { f.Wrote(key, "10") }, "12", true},
		{"not cached after a create", func(f *Tracker) { f.Wrote(key, "10") }, "", false},
		{"delete needs a newer version", func(f *Tracker) { f.WroteAfter(key, "10") }, "10", false},
		{"delete shown", func(f *Tracker) { f.WroteAfter(key, "10") }, "11", true},
		{"two writes: the later counts", func(f *Tracker) { f.Wrote(key, "10"); f.Wrote(key, "12") }, "11", false},
		{"an older mark never lowers it", func(f *Tracker) { f.Wrote(key, "12"); f.Wrote(key, "10") }, "11", false},
		{"unparsable version reads live", func(f *Tracker) { f.Wrote(key, "abc") }, "99", false},
		{"unparsable cached version reads live", func(f *Tracker) { f.Wrote(key, "10") }, "x", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := New()
			tc.write(f)
			if got := f.Satisfied(key, tc.cached); got != tc.want {
				t.Fatalf("satisfied(%q) = %t, want %t", tc.cached, got, tc.want)
			}
		})
	}
}

func TestFreshnessForgets(t *testing.T) {
	key := client.ObjectKey{Namespace: "acct-1", Name: "demo"}
	f := New()
	f.Wrote(key, "10")
	if !f.Satisfied(key, "10") || len(f.min) != 0 {
		t.Fatal("a satisfied mark is kept")
	}
	f.Wrote(key, "20")
	f.min[key] = freshMark{rev: 20, at: time.Now().Add(-2 * Window)}
	f.lastSweep = time.Time{}
	f.sweep(time.Now())
	if len(f.min) != 0 {
		t.Fatal("an expired mark survived the sweep")
	}
	var none *Tracker
	none.Wrote(key, "1")
	if !none.Satisfied(key, "") {
		t.Fatal("a nil freshness refuses reads")
	}
}
