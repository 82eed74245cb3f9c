package etcdcare

import (
	"context"
	"fmt"
	"log/slog"
	"net/url"
	"time"

	pb "go.etcd.io/etcd/api/v3/etcdserverpb"
	clientv3 "go.etcd.io/etcd/client/v3"
	"google.golang.org/grpc"
)

// member is a connection pinned to one endpoint. The shared client balances calls
// over every endpoint; status, leader transfer and snapshots must reach one
// particular member (MoveLeader is refused by followers; a snapshot's revision is
// only meaningful for the member that took it).
type member struct {
	conn *grpc.ClientConn
	mnt  clientv3.Maintenance
}

func dialMember(cli *clientv3.Client, endpoint string) (*member, error) {
	conn, err := cli.Dial(endpoint)
	if err != nil {
		return nil, fmt.Errorf("dialing %s: %w", endpoint, err)
	}
	return &member{
		conn: conn,
		mnt:  clientv3.NewMaintenanceFromMaintenanceClient(pb.NewMaintenanceClient(conn), cli),
	}, nil
}

func (m *member) Close() { _ = m.conn.Close() }

// hostPort reduces an endpoint ("https://10.0.0.1:2379" or "10.0.0.1:2379") to the
// form both client configuration and member lists agree on.
func hostPort(endpoint string) string {
	if u, err := url.Parse(endpoint); err == nil && u.Host != "" {
		return u.Host
	}
	return endpoint
}

func endpointsOf(cli *clientv3.Client, endpoints []string) []string {
	if len(endpoints) > 0 {
		return endpoints
	}
	return cli.Endpoints()
}

func logOrDiscard(log *slog.Logger) *slog.Logger {
	if log == nil {
		return slog.New(slog.DiscardHandler)
	}
	return log
}

// permanentError stops poll at once: retrying cannot help.
type permanentError struct{ error }

func (e permanentError) Unwrap() error { return e.error }

func permanent(err error) error { return permanentError{err} }

// poll calls check every interval until it reports done, returns a permanent
// error, or timeout passes; other errors are reasons to try again, and the last one
// is returned with the deadline's.
func poll(ctx context.Context, interval, timeout time.Duration, check func(context.Context) (bool, error)) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var last error
	for {
		done, err := check(ctx)
		if done {
			return nil
		}
		if p, ok := err.(permanentError); ok {
			return p.error
		}
		if err != nil {
			last = err
		}
		select {
		case <-ctx.Done():
			if last != nil {
				return fmt.Errorf("%w (last: %w)", ctx.Err(), last)
			}
			return ctx.Err()
		case <-time.After(interval):
		}
	}
}
