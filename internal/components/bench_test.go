package components

import (
	"context"
	"path/filepath"
	"testing"
)

// realKubernetes returns a Cache on the machine's real component cache, or
// skips: these benchmarks measure hashing the real binaries and never build.
func realKubernetes(b *testing.B) *Cache {
	c := New(Config{Go: failingGo})
	if !complete(filepath.Join(c.cfg.CacheDir, "kubernetes-"+Default().Version)) {
		b.Skip("no Kubernetes build in the component cache")
	}
	return c
}

// BenchmarkVerifyKubernetesCold verifies a Kubernetes release's five binaries
// (about 400 MB) as a freshly started process does: every one hashed.
// go test -run '^$' -bench VerifyKubernetes -benchtime 5x ./internal/components/
func BenchmarkVerifyKubernetesCold(b *testing.B) {
	realKubernetes(b)
	for b.Loop() {
		if _, err := New(Config{Go: failingGo}).Kubernetes(context.Background(), Default()); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkVerifyKubernetesWarm is every later hand-out in the same process
// (each cluster reconcile): the binaries are only stat'ed.
func BenchmarkVerifyKubernetesWarm(b *testing.B) {
	c := realKubernetes(b)
	if _, err := c.Kubernetes(context.Background(), Default()); err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if _, err := c.Kubernetes(context.Background(), Default()); err != nil {
			b.Fatal(err)
		}
	}
}
