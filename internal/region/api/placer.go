package api

import (
	"context"
	"errors"

	"github.com/cellplane/cellplane/api/v1alpha1"
)

// Placer chooses the cell a new cluster runs in. It is called once, before the
// cluster is stored; the choice is permanent. An error wrapping
// errdefs.ErrLimitExceeded says no cell has room, errdefs.ErrUnavailable that
// none can be reached. done is called once the cluster is stored and visible in
// Config.Cache, or its create failed.
type Placer interface {
	Place(ctx context.Context, c *v1alpha1.Cluster) (cell string, done func(), err error)
}

// StaticPlacer places every cluster in one cell (unit tests).
type StaticPlacer struct {
	Cell string
}

// Place returns the configured cell.
func (p StaticPlacer) Place(context.Context, *v1alpha1.Cluster) (string, func(), error) {
	if p.Cell == "" {
		return "", nil, errors.New("static placer has no cell configured")
	}
	return p.Cell, func() {}, nil
}
