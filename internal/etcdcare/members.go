package etcdcare

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"

	pb "go.etcd.io/etcd/api/v3/etcdserverpb"
	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/cellplane/cellplane/internal/errdefs"
)

// promoteInterval is how often PromoteLearner retries a learner still catching up.
const promoteInterval = 500 * time.Millisecond

// RemoveMember removes member id from the cluster; a member already gone is not
// an error. It refuses (ErrWouldLoseQuorum) when the healthy voters left behind
// would not form a quorum of the smaller cluster: removing a healthy member while
// another is down turns a degraded cluster into a stopped one.
func RemoveMember(ctx context.Context, cli *clientv3.Client, endpoints []string, id uint64, log *slog.Logger) error {
	c, err := Status(ctx, cli, endpoints)
	if err != nil {
		return fmt.Errorf("before removing member %x: %w", id, err)
	}
	m, ok := c.Member(id)
	if !ok {
		return nil
	}
	if !m.Learner {
		if err := quorumWithout(c, id); err != nil {
			return err
		}
	}
	logOrDiscard(log).Info("removing etcd member", "member", m.Name, "id", fmt.Sprintf("%x", id))
	_, err = cli.MemberRemove(ctx, id)
	if err != nil && !errors.Is(err, rpctypes.ErrMemberNotFound) {
		return fmt.Errorf("removing member %s: %w", m.label(), err)
	}
	return nil
}

func quorumWithout(c Cluster, id uint64) error {
	voters, healthy := 0, 0
	for _, m := range c.Members {
		if m.Learner || m.ID == id {
			continue
		}
		voters++
		if m.Healthy() {
			healthy++
		}
	}
	if voters == 0 || healthy <= voters/2 {
		return fmt.Errorf("%w: %d of %d remaining voters healthy", ErrWouldLoseQuorum, healthy, voters)
	}
	return nil
}

// Join is what a new member needs to start: its ID and the --initial-cluster
// value (with --initial-cluster-state=existing and an empty data directory; a
// removed member's old data belongs to an ID that no longer exists).
type Join struct {
	ID             uint64
	InitialCluster string
}

// AddLearner adds a learner named name at peerURL. A learner receives the log but
// does not vote, so adding it cannot cost quorum while it catches up. If a learner
// with this peer URL exists already (a retry), it is returned instead; a voter
// there returns errdefs.ErrAlreadyExists.
func AddLearner(ctx context.Context, cli *clientv3.Client, name, peerURL string, log *slog.Logger) (Join, error) {
	var join Join
	err := poll(ctx, promoteInterval, addRetryTimeout, func(ctx context.Context) (bool, error) {
		var err error
		join, err = addLearnerOnce(ctx, cli, name, peerURL, logOrDiscard(log))
		switch {
		case err == nil:
			return true, nil
		case errors.Is(err, rpctypes.ErrUnhealthy), errors.Is(err, rpctypes.ErrPeerURLExist):
			return false, err // not yet; or an earlier attempt's add landed: list again
		}
		return false, permanent(err)
	})
	if err != nil {
		return Join{}, fmt.Errorf("adding learner %s: %w", name, err)
	}
	return join, nil
}

// addRetryTimeout covers etcd's strict reconfiguration check: a member refuses a
// membership change (ErrUnhealthy) unless it has been connected to a quorum of
// peers for the last 5 s (HealthInterval, mayAddMember in
// server/etcdserver/server.go), which fails for a while after any reconnection.
const addRetryTimeout = 15 * time.Second

func addLearnerOnce(ctx context.Context, cli *clientv3.Client, name, peerURL string, log *slog.Logger) (Join, error) {
	list, err := cli.MemberList(ctx)
	if err != nil {
		return Join{}, fmt.Errorf("listing members: %w", err)
	}
	members := list.Members
	m := findMember(members, func(m *pb.Member) bool { return slices.Contains(m.PeerURLs, peerURL) })
	switch {
	case m != nil && !m.IsLearner:
		return Join{}, fmt.Errorf("voting member %x already at %s: %w", m.ID, peerURL, errdefs.ErrAlreadyExists)
	case m == nil:
		resp, err := cli.MemberAddAsLearner(ctx, []string{peerURL})
		if err != nil {
			return Join{}, err
		}
		m, members = resp.Member, resp.Members
		log.Info("added etcd learner", "member", name, "id", fmt.Sprintf("%x", m.ID))
	}
	return Join{ID: m.ID, InitialCluster: initialCluster(members, m.ID, name)}, nil
}

// initialCluster names every member by its peer URLs; the new member has no name
// until it starts, so it gets the one it will start with.
func initialCluster(members []*pb.Member, newID uint64, name string) string {
	var parts []string
	for _, m := range members {
		n := m.Name
		if m.ID == newID {
			n = name
		}
		for _, u := range m.PeerURLs {
			parts = append(parts, n+"="+u)
		}
	}
	return strings.Join(parts, ",")
}

// PromoteLearner promotes learner id to a voter. etcd refuses while the learner's
// log is behind the leader's (ErrMemberLearnerNotReady), so this retries until it
// succeeds or timeout passes. A member that is already a voter counts as promoted.
func PromoteLearner(ctx context.Context, cli *clientv3.Client, id uint64, timeout time.Duration, log *slog.Logger) error {
	err := poll(ctx, promoteInterval, timeout, func(ctx context.Context) (bool, error) {
		_, err := cli.MemberPromote(ctx, id)
		switch {
		case err == nil, errors.Is(err, rpctypes.ErrMemberNotLearner):
			return true, nil
		case errors.Is(err, rpctypes.ErrMemberNotFound):
			return false, permanent(fmt.Errorf("member %x: %w", id, errdefs.ErrNotFound))
		}
		return false, err
	})
	if err != nil {
		return fmt.Errorf("promoting learner %x: %w", id, err)
	}
	logOrDiscard(log).Info("promoted etcd learner", "id", fmt.Sprintf("%x", id))
	return nil
}
