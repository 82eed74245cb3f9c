package api

import (
	"context"
	"errors"

	"github.com/cellplane/cellplane/api/v1alpha1"
)

// Placer chooses the cell a new cluster runs in. It is called once, before the
// cluster is stored; the choice is permanent. An error wrapping
// errdefs.ErrLimitExceeded tells the caller that no cell has room.
type Placer interface {
	Place(ctx context.Context, c *v1alpha1.Cluster) (cell string, err error)
}

// StaticPlacer places every cluster in one cell: the single-cell embedded default.
type StaticPlacer struct {
	Cell string
}

// Place returns the configured cell.
func (p StaticPlacer) Place(context.Context, *v1alpha1.Cluster) (string, error) {
	if p.Cell == "" {
		return "", errors.New("static placer has no cell configured")
	}
	return p.Cell, nil
}
