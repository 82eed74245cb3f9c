package etcdconn

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"time"

	pb "go.etcd.io/etcd/api/v3/etcdserverpb"
	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/cellplane/cellplane/internal/etcdcare"
)

// Conn is one cluster's etcd: the etcdcare operations bound to the cluster's
// client and every member's endpoint. It satisfies the narrow interface each
// concern declares for what it uses (care.Etcd, members.Membership,
// restore.ReplayTarget, backups.Source).
type Conn struct {
	cli *clientv3.Client
	eps []string
}

// Status is etcd's own view of every member.
func (c *Conn) Status(ctx context.Context) (etcdcare.Cluster, error) {
	return etcdcare.Status(ctx, c.cli, c.eps)
}

// CompactIfBehind compacts history an API server failed to compact.
func (c *Conn) CompactIfBehind(ctx context.Context, pol etcdcare.CompactionPolicy, log *slog.Logger) (etcdcare.CompactionReport, error) {
	return etcdcare.CompactIfBehind(ctx, c.cli, pol, log)
}

// Defragment defragments the members pol picks, the leader last.
func (c *Conn) Defragment(ctx context.Context, pol etcdcare.Policy, log *slog.Logger) (etcdcare.Report, error) {
	return etcdcare.Defragment(ctx, c.cli, c.eps, pol, log)
}

// RecoverNoSpace clears the NOSPACE alarm.
func (c *Conn) RecoverNoSpace(ctx context.Context, pol etcdcare.Policy, log *slog.Logger) (etcdcare.NoSpaceReport, error) {
	return etcdcare.RecoverNoSpace(ctx, c.cli, c.eps, pol, log)
}

// moveLeaderTimeout bounds a leadership transfer and the wait to see it.
const moveLeaderTimeout = 5 * time.Second

// MoveLeader hands leadership to member to.
func (c *Conn) MoveLeader(ctx context.Context, cl etcdcare.Cluster, to uint64) error {
	return etcdcare.MoveLeader(ctx, c.cli, c.eps, cl, to, moveLeaderTimeout)
}

// MemberList lists the members as etcd knows them.
func (c *Conn) MemberList(ctx context.Context) ([]*pb.Member, error) {
	resp, err := c.cli.MemberList(ctx)
	if err != nil {
		return nil, fmt.Errorf("listing etcd members: %w", err)
	}
	return resp.Members, nil
}

// RemoveMember removes member id.
func (c *Conn) RemoveMember(ctx context.Context, id uint64, log *slog.Logger) error {
	return etcdcare.RemoveMember(ctx, c.cli, c.eps, id, log)
}

// AddLearner adds a learner named name at peerURL.
func (c *Conn) AddLearner(ctx context.Context, name, peerURL string, log *slog.Logger) (etcdcare.Join, error) {
	return etcdcare.AddLearner(ctx, c.cli, name, peerURL, log)
}

// PromoteLearner promotes learner id once it has caught up, trying for timeout.
func (c *Conn) PromoteLearner(ctx context.Context, id uint64, timeout time.Duration, log *slog.Logger) error {
	return etcdcare.PromoteLearner(ctx, c.cli, id, timeout, log)
}

// Replay applies a restore's incrementals.
func (c *Conn) Replay(ctx context.Context, snapshotRev int64, batches []etcdcare.Batch, log *slog.Logger) (etcdcare.ReplayReport, error) {
	return etcdcare.Replay(ctx, c.cli, snapshotRev, batches, log)
}

// Snapshot streams a full snapshot to w and returns the revision it covers.
func (c *Conn) Snapshot(ctx context.Context, w io.Writer) (int64, error) {
	return etcdcare.Snapshot(ctx, c.cli, w)
}

// Tail hands over every event after revision from in batches until ctx ends
// or it fails; etcdcare.ErrSnapshotRequired means from is compacted away.
func (c *Conn) Tail(ctx context.Context, from int64, every time.Duration, flush func(context.Context, etcdcare.Batch) error) error {
	t, err := etcdcare.NewTailer(etcdcare.TailerConfig{Client: c.cli, From: from, FlushInterval: every, Flush: flush})
	if err != nil {
		return err
	}
	return t.Run(ctx)
}

// revisionProbeKey is read only for the response header's revision; nothing
// writes it.
const revisionProbeKey = "/cellplane.io/backup-revision-probe"

// Revision is the cluster's current revision, read linearizably: every write
// acknowledged before the call has a revision at or below it.
func (c *Conn) Revision(ctx context.Context) (int64, error) {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	resp, err := c.cli.Get(ctx, revisionProbeKey, clientv3.WithCountOnly())
	if err != nil {
		return 0, fmt.Errorf("reading etcd revision: %w", err)
	}
	return resp.Header.Revision, nil
}
