package backups

import (
	"context"
	"io"
	"time"

	"github.com/cellplane/cellplane/internal/controlplane"
	"github.com/cellplane/cellplane/internal/etcdcare"
)

// Source is one cluster's etcd as the backup worker reads it. The cell's
// etcdconn.Conn implements it; unit tests fake it.
type Source interface {
	// Snapshot streams a full snapshot to w and returns the revision it covers.
	Snapshot(ctx context.Context, w io.Writer) (int64, error)
	// Tail hands over every event after revision from in batches until ctx ends
	// or it fails; etcdcare.ErrSnapshotRequired means from is compacted away.
	Tail(ctx context.Context, from int64, every time.Duration, flush func(context.Context, etcdcare.Batch) error) error
	// Revision is the cluster's current revision, read linearizably: every write
	// acknowledged before the call has a revision at or below it.
	Revision(ctx context.Context) (int64, error)
}

// Dialer returns the etcd of the control plane p describes.
type Dialer func(p *controlplane.Plan) (Source, error)
