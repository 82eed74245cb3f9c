package pki

import (
	"path/filepath"
	"strconv"
	"testing"
)

// BenchmarkEnsureCluster measures a tenant's first creation ("fresh") and the
// check run on every later reconcile ("unchanged").
func BenchmarkEnsureCluster(b *testing.B) {
	b.Run("fresh", func(b *testing.B) {
		root, n := b.TempDir(), 0
		for b.Loop() {
			n++
			mustCluster(b, filepath.Join(root, strconv.Itoa(n)), testSpec())
		}
	})
	b.Run("unchanged", func(b *testing.B) {
		dir := b.TempDir()
		mustCluster(b, dir, testSpec())
		for b.Loop() {
			mustCluster(b, dir, testSpec())
		}
	})
}
