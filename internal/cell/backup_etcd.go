package cell

import (
	"context"
	"fmt"
	"io"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/cellplane/cellplane/internal/controlplane"
	"github.com/cellplane/cellplane/internal/etcdcare"
)

// BackupSource is one cluster's etcd as the backup worker reads it. dialBackupEtcd
// implements it over clientv3; unit tests fake it.
type BackupSource interface {
	// Snapshot streams a full snapshot to w and returns the revision it covers.
	Snapshot(ctx context.Context, w io.Writer) (int64, error)
	// Tail hands over every event after revision from in batches until ctx ends
	// or it fails; etcdcare.ErrSnapshotRequired means from is compacted away.
	Tail(ctx context.Context, from int64, every time.Duration, flush func(context.Context, etcdcare.Batch) error) error
	// Revision is the cluster's current revision, read linearizably: every write
	// acknowledged before the call has a revision at or below it.
	Revision(ctx context.Context) (int64, error)
	Close() error
}

// BackupDialer connects to the etcd of the control plane p describes.
type BackupDialer func(p *controlplane.Plan) (BackupSource, error)

// dialBackupEtcd connects with cellplane's own etcd client certificate. It is
// separate from etcd care's connection so a long snapshot stream or watch never
// shares a connection with the care loop's maintenance calls.
func dialBackupEtcd(p *controlplane.Plan) (BackupSource, error) {
	cli, err := newEtcdClient(p)
	if err != nil {
		return nil, err
	}
	return &backupEtcd{cli: cli}, nil
}

type backupEtcd struct{ cli *clientv3.Client }

func (b *backupEtcd) Snapshot(ctx context.Context, w io.Writer) (int64, error) {
	return etcdcare.Snapshot(ctx, b.cli, w)
}

func (b *backupEtcd) Tail(ctx context.Context, from int64, every time.Duration, flush func(context.Context, etcdcare.Batch) error) error {
	t, err := etcdcare.NewTailer(etcdcare.TailerConfig{Client: b.cli, From: from, FlushInterval: every, Flush: flush})
	if err != nil {
		return err
	}
	return t.Run(ctx)
}

// revisionProbeKey is read only for the response header's revision; nothing
// writes it.
const revisionProbeKey = "/cellplane.io/backup-revision-probe"

func (b *backupEtcd) Revision(ctx context.Context) (int64, error) {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	resp, err := b.cli.Get(ctx, revisionProbeKey, clientv3.WithCountOnly())
	if err != nil {
		return 0, fmt.Errorf("reading etcd revision: %w", err)
	}
	return resp.Header.Revision, nil
}

func (b *backupEtcd) Close() error { return b.cli.Close() }
