package storetest

import (
	"context"
	"errors"
	"fmt"
	"os"

	"github.com/cellplane/cellplane/internal/components"
)

// ErrNoComponents means the component cache lacks the binaries a store runs.
var ErrNoComponents = errors.New("etcd and kube-apiserver are not in the component cache")

type binaries struct{ etcd, apiServer string }

// findBinaries takes etcd and kube-apiserver from the component cache. It never
// builds them: a build takes minutes and belongs to `make components`, which
// `make test` runs before the package tests, not to whichever test binary
// happens to need a store first.
func findBinaries(ctx context.Context) (binaries, error) {
	cache := components.New(components.Config{})
	missing := fmt.Errorf("%w %s: run `make components` first (it builds them once per machine), "+
		"or wait until a running `cellplane components build` is done", ErrNoComponents, components.DefaultCacheDir())
	if !cache.Cached() {
		return binaries{}, missing
	}
	// Built already, so these only name the paths.
	etcd, err := cache.Etcd(ctx)
	if err != nil {
		return binaries{}, fmt.Errorf("finding etcd: %w", err)
	}
	kube, err := cache.Kubernetes(ctx, components.Default())
	if err != nil {
		return binaries{}, fmt.Errorf("finding kube-apiserver: %w", err)
	}
	b := binaries{etcd: etcd.Etcd, apiServer: kube.KubeAPIServer}
	for _, path := range []string{b.etcd, b.apiServer} {
		if _, err := os.Stat(path); err != nil {
			return binaries{}, errors.Join(missing, err)
		}
	}
	return b, nil
}
