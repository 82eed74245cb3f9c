package etcdcare

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"
)

// moveLeaderAway transfers leadership from m to the best healthy voter: one
// already defragmented in this run if there is one (it will not pause again), else
// the most caught-up. MoveLeader must reach the leader itself, so the request goes
// over a connection pinned to it.
func (d *defragger) moveLeaderAway(ctx context.Context, c Cluster, m Member) (uint64, error) {
	to, ok := d.transferee(c, m.ID)
	if !ok {
		return 0, fmt.Errorf("no healthy voter to take leadership from %s: %w", m.Name, ErrUnhealthy)
	}
	d.log.Info("moving etcd leadership", "from", m.Name, "to", to.Name)
	lm, err := dialMember(d.cli, m.Endpoint)
	if err != nil {
		return 0, err
	}
	defer lm.Close()
	ctx, cancel := context.WithTimeout(ctx, d.pol.SettleTimeout)
	defer cancel()
	_, err = lm.mnt.MoveLeader(ctx, to.ID)
	// Leadership may have moved on its own since the status read; the wait after
	// this decides whether it is elsewhere now.
	if err != nil && !errors.Is(err, rpctypes.ErrNotLeader) {
		return 0, fmt.Errorf("moving leadership from %s to %s: %w", m.Name, to.Name, err)
	}
	return to.ID, nil
}

func (d *defragger) transferee(c Cluster, from uint64) (Member, bool) {
	done := map[uint64]bool{}
	for _, s := range d.report.Steps {
		done[s.ID] = true
	}
	var cands []Member
	for _, m := range c.Members {
		if m.ID != from && m.Healthy() && !m.Learner {
			cands = append(cands, m)
		}
	}
	slices.SortFunc(cands, func(a, b Member) int {
		return cmp.Or(-cmpBool(done[a.ID], done[b.ID]), cmp.Compare(b.RaftAppliedIndex, a.RaftAppliedIndex), cmp.Compare(a.Name, b.Name))
	})
	if len(cands) == 0 {
		return Member{}, false
	}
	return cands[0], true
}

// awaitLeaderElsewhere waits until the cluster is healthy under a leader other than
// id, and returns that status.
func (d *defragger) awaitLeaderElsewhere(ctx context.Context, id uint64) (Cluster, error) {
	var c Cluster
	err := poll(ctx, settleInterval, d.pol.SettleTimeout, func(ctx context.Context) (bool, error) {
		var err error
		if c, err = d.healthy(ctx); err != nil {
			return false, err
		}
		return c.LeaderID != id, nil
	})
	if err != nil {
		return c, fmt.Errorf("waiting for leadership to leave member %x: %w", id, err)
	}
	return c, nil
}

// MoveLeader hands leadership from the current leader to member to, and waits
// until etcd reports to as leader or timeout passes. A cluster already led by
// to is left alone. Evacuating a zone uses it.
func MoveLeader(ctx context.Context, cli *clientv3.Client, endpoints []string, c Cluster, to uint64, timeout time.Duration) error {
	l, ok := c.Leader()
	if !ok {
		return fmt.Errorf("moving leadership: no leader: %w", ErrUnhealthy)
	}
	if l.ID == to {
		return nil
	}
	lm, err := dialMember(cli, l.Endpoint)
	if err != nil {
		return err
	}
	defer lm.Close()
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	if _, err := lm.mnt.MoveLeader(ctx, to); err != nil && !errors.Is(err, rpctypes.ErrNotLeader) {
		return fmt.Errorf("moving leadership from %s to %x: %w", l.Name, to, err)
	}
	return poll(ctx, settleInterval, timeout, func(ctx context.Context) (bool, error) {
		c, err := Status(ctx, cli, endpoints)
		return err == nil && c.LeaderID == to, nil
	})
}
