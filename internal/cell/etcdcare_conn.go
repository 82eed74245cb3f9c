package cell

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	pb "go.etcd.io/etcd/api/v3/etcdserverpb"
	"go.etcd.io/etcd/client/pkg/v3/transport"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"

	"github.com/cellplane/cellplane/internal/controlplane"
	"github.com/cellplane/cellplane/internal/etcdcare"
)

// EtcdOps is one cluster's etcd as etcd care uses it: the etcdcare operations
// bound to a client of that cluster. dialEtcd implements it over clientv3; unit
// tests fake it.
type EtcdOps interface {
	Status(ctx context.Context) (etcdcare.Cluster, error)
	CompactIfBehind(ctx context.Context, pol etcdcare.CompactionPolicy, log *slog.Logger) (etcdcare.CompactionReport, error)
	Defragment(ctx context.Context, pol etcdcare.Policy, log *slog.Logger) (etcdcare.Report, error)
	RecoverNoSpace(ctx context.Context, pol etcdcare.Policy, log *slog.Logger) (etcdcare.NoSpaceReport, error)
	MoveLeader(ctx context.Context, c etcdcare.Cluster, to uint64) error
	Close() error
}

// EtcdDialer connects to the etcd of the control plane p describes.
type EtcdDialer func(p *controlplane.Plan) (EtcdOps, error)

// etcdDialTimeout bounds the first connection to a member.
const etcdDialTimeout = 5 * time.Second

// dialEtcd connects with cellplane's own etcd client certificate, the one the
// Prober uses: it is issued for cellplane, not borrowed from the API server, so
// etcd's logs tell the two apart.
func dialEtcd(p *controlplane.Plan) (EtcdOps, error) { return dialEtcdConn(p) }

// dialReplayEtcd connects a restore's replay the way etcd care connects.
func dialReplayEtcd(p *controlplane.Plan) (ReplayTarget, error) { return dialEtcdConn(p) }

func dialEtcdConn(p *controlplane.Plan) (*etcdConn, error) {
	cli, err := newEtcdClient(p)
	if err != nil {
		return nil, err
	}
	return &etcdConn{cli: cli, eps: p.EtcdEndpoints()}, nil
}

// newEtcdClient connects to every member of p's etcd with cellplane's own client
// certificate. Each caller gets a client of its own.
func newEtcdClient(p *controlplane.Plan) (*clientv3.Client, error) {
	f := p.Files()
	tlsInfo := transport.TLSInfo{
		CertFile: f.CellplaneEtcdClient.Cert, KeyFile: f.CellplaneEtcdClient.Key, TrustedCAFile: f.EtcdCA,
	}
	tc, err := tlsInfo.ClientConfig()
	if err != nil {
		return nil, fmt.Errorf("loading etcd client certificate: %w", err)
	}
	cli, err := clientv3.New(clientv3.Config{
		Endpoints: p.EtcdEndpoints(), TLS: tc, DialTimeout: etcdDialTimeout, Logger: zap.NewNop(),
		// Dead members are noticed in seconds instead of at the kernel's timeout.
		DialKeepAliveTime: 10 * time.Second, DialKeepAliveTimeout: 5 * time.Second,
	})
	if err != nil {
		return nil, fmt.Errorf("connecting to etcd: %w", err)
	}
	return cli, nil
}

// etcdConn is EtcdOps over a clientv3 client and every member's endpoint.
type etcdConn struct {
	cli *clientv3.Client
	eps []string
}

func (e *etcdConn) Status(ctx context.Context) (etcdcare.Cluster, error) {
	return etcdcare.Status(ctx, e.cli, e.eps)
}

func (e *etcdConn) CompactIfBehind(ctx context.Context, pol etcdcare.CompactionPolicy, log *slog.Logger) (etcdcare.CompactionReport, error) {
	return etcdcare.CompactIfBehind(ctx, e.cli, pol, log)
}

func (e *etcdConn) Defragment(ctx context.Context, pol etcdcare.Policy, log *slog.Logger) (etcdcare.Report, error) {
	return etcdcare.Defragment(ctx, e.cli, e.eps, pol, log)
}

func (e *etcdConn) RecoverNoSpace(ctx context.Context, pol etcdcare.Policy, log *slog.Logger) (etcdcare.NoSpaceReport, error) {
	return etcdcare.RecoverNoSpace(ctx, e.cli, e.eps, pol, log)
}

func (e *etcdConn) Replay(ctx context.Context, snapshotRev int64, batches []etcdcare.Batch, log *slog.Logger) (etcdcare.ReplayReport, error) {
	return etcdcare.Replay(ctx, e.cli, snapshotRev, batches, log)
}

// moveLeaderTimeout bounds a leadership transfer and the wait to see it.
const moveLeaderTimeout = 5 * time.Second

func (e *etcdConn) MoveLeader(ctx context.Context, c etcdcare.Cluster, to uint64) error {
	return etcdcare.MoveLeader(ctx, e.cli, e.eps, c, to, moveLeaderTimeout)
}

func (e *etcdConn) Close() error { return e.cli.Close() }

func (e *etcdConn) MemberList(ctx context.Context) ([]*pb.Member, error) {
	resp, err := e.cli.MemberList(ctx)
	if err != nil {
		return nil, fmt.Errorf("listing etcd members: %w", err)
	}
	return resp.Members, nil
}

func (e *etcdConn) RemoveMember(ctx context.Context, id uint64, log *slog.Logger) error {
	return etcdcare.RemoveMember(ctx, e.cli, e.eps, id, log)
}

func (e *etcdConn) AddLearner(ctx context.Context, name, peerURL string, log *slog.Logger) (etcdcare.Join, error) {
	return etcdcare.AddLearner(ctx, e.cli, name, peerURL, log)
}

func (e *etcdConn) PromoteLearner(ctx context.Context, id uint64, timeout time.Duration, log *slog.Logger) error {
	return etcdcare.PromoteLearner(ctx, e.cli, id, timeout, log)
}
