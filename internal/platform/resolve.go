package platform

import (
	"context"
	"fmt"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/cellplane/cellplane/api/v1alpha1"
)

// Catalog is the built-in versions and those registered in a store.
type Catalog struct {
	// Store holds the registered versions; nil knows only the built-ins.
	Store client.Reader
}

// Resolve returns the platform version named name for a cluster of minor:
// the minor's default when name is empty. This is the one place a cell
// decides what its clusters' components get around the upstream binaries.
func (c Catalog) Resolve(ctx context.Context, minor, name string) (Version, error) {
	if name == "" {
		name = Default(minor)
	}
	v, ok := builtin(name)
	if !ok {
		var err error
		if v, err = c.registered(ctx, name); err != nil {
			return Version{}, err
		}
	}
	if !v.AppliesTo(minor) {
		return Version{}, fmt.Errorf("%w: %s is for %v, not %s", ErrWrongMinor, name, v.Minors, minor)
	}
	return v, nil
}

func (c Catalog) registered(ctx context.Context, name string) (Version, error) {
	if c.Store == nil {
		return Version{}, fmt.Errorf("%w: %s", ErrUnknown, name)
	}
	pv := &v1alpha1.PlatformVersion{}
	err := c.Store.Get(ctx, client.ObjectKey{Name: name}, pv)
	if apierrors.IsNotFound(err) {
		return Version{}, fmt.Errorf("%w: %s", ErrUnknown, name)
	}
	if err != nil {
		return Version{}, fmt.Errorf("reading platform version %s: %w", name, err)
	}
	return FromObject(pv), nil
}

// IsBuiltin reports whether name is one of the built-in versions, which
// need no copy in a cell's store.
func IsBuiltin(name string) bool {
	_, ok := builtin(name)
	return name == "" || ok
}

// Running is the platform version to show for c: what its components last
// ran healthy with, else its minor's default.
func Running(c *v1alpha1.Cluster) string {
	if c.Status.PlatformVersion != "" {
		return c.Status.PlatformVersion
	}
	return Default(c.Spec.Version)
}
