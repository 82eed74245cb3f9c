package etcdcare

import (
	"cmp"
	"context"
	"fmt"
	"log/slog"
	"slices"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/cellplane/cellplane/internal/errdefs"
)

// Defragmentation defaults. Below 100 MiB a backend is cheap to keep as it is, and
// half of it must be free before rewriting the file is worth a member's pause.
const (
	DefaultMinFragmentation = 0.5
	DefaultMinDBSize        = 100 << 20
	DefaultDefragTimeout    = 5 * time.Minute
	DefaultSettleTimeout    = time.Minute
)

// settleInterval is how often a waiting step re-reads status.
const settleInterval = 200 * time.Millisecond

// Policy says which members to defragment and how long each step may take.
type Policy struct {
	// MinFragmentation is the share of the backend file that must be free
	// (1 - dbSizeInUse/dbSize). Default DefaultMinFragmentation.
	MinFragmentation float64
	// MinDBSize is the backend size below which a member is left alone.
	// Default DefaultMinDBSize.
	MinDBSize int64
	// DefragTimeout bounds one member's defragmentation. Default DefaultDefragTimeout.
	DefragTimeout time.Duration
	// SettleTimeout bounds each wait: for a leadership transfer to take effect, and
	// for a defragmented member to catch up. Default DefaultSettleTimeout.
	SettleTimeout time.Duration

	// every defragments each member whatever its size and fragmentation.
	every bool
}

func (p Policy) withDefaults() Policy {
	p.MinFragmentation = cmp.Or(p.MinFragmentation, DefaultMinFragmentation)
	p.MinDBSize = cmp.Or(p.MinDBSize, DefaultMinDBSize)
	p.DefragTimeout = cmp.Or(p.DefragTimeout, DefaultDefragTimeout)
	p.SettleTimeout = cmp.Or(p.SettleTimeout, DefaultSettleTimeout)
	return p
}

// Needs reports whether member m is due for defragmentation.
func (p Policy) Needs(m Member) bool {
	p = p.withDefaults()
	return p.every || m.DBSize >= p.MinDBSize && m.Fragmentation() >= p.MinFragmentation
}

// Usage is a member's backend size at one moment.
type Usage struct {
	DBSize, DBSizeInUse int64
}

// Step records one member's defragmentation.
type Step struct {
	Member   string
	ID       uint64
	Endpoint string
	// MovedLeaderTo is the member leadership moved to because this one led when
	// its turn came (0: it did not lead).
	MovedLeaderTo uint64
	// LeaderAtDefrag is the leader per etcd's own status, read just before the
	// defragment call: never this member.
	LeaderAtDefrag uint64
	Before, After  Usage
	Took           time.Duration
}

// Report lists what Defragment did, in order.
type Report struct {
	Steps   []Step
	Skipped []string // members that did not need it when their turn came
}

// Defragment defragments every member that policy says needs it, one at a time:
// learners and followers first, the leader last, and before the leader's turn
// leadership moves to a healthy member, so no write waits on a defragmenting
// leader. It refuses to start, and stops, while any member is unhealthy: a
// defragmenting member serves nothing, and with another member down the cluster
// would lose quorum. Every step re-reads status, so an interrupted run is resumed
// by running it again.
func Defragment(ctx context.Context, cli *clientv3.Client, endpoints []string, pol Policy, log *slog.Logger) (Report, error) {
	d := defragger{cli: cli, eps: endpointsOf(cli, endpoints), pol: pol.withDefaults(), log: logOrDiscard(log)}
	c, err := d.healthy(ctx)
	if err != nil {
		return Report{}, fmt.Errorf("before defragmentation: %w", err)
	}
	for _, id := range defragOrder(c) {
		if err := d.one(ctx, id); err != nil {
			return d.report, err
		}
	}
	return d.report, nil
}

// defragOrder lists learners and followers by name, then the leader.
func defragOrder(c Cluster) []uint64 {
	ms := slices.Clone(c.Members)
	slices.SortStableFunc(ms, func(a, b Member) int {
		return cmp.Or(cmpBool(a.Leader, b.Leader), cmp.Compare(a.Name, b.Name))
	})
	var ids []uint64
	for _, m := range ms {
		ids = append(ids, m.ID)
	}
	return ids
}

func cmpBool(a, b bool) int {
	switch {
	case a == b:
		return 0
	case a:
		return 1
	}
	return -1
}

type defragger struct {
	cli    *clientv3.Client
	eps    []string
	pol    Policy
	log    *slog.Logger
	report Report
}

func (d *defragger) healthy(ctx context.Context) (Cluster, error) {
	c, err := Status(ctx, d.cli, d.eps)
	if err != nil {
		return c, fmt.Errorf("%w: %w", ErrUnhealthy, err)
	}
	return c, c.unhealthy()
}

func (d *defragger) one(ctx context.Context, id uint64) error {
	c, err := d.healthy(ctx)
	if err != nil {
		return err
	}
	m, ok := c.Member(id)
	if !ok {
		return fmt.Errorf("member %x left the cluster during defragmentation: %w", id, errdefs.ErrUnavailable)
	}
	if !d.pol.Needs(m) {
		d.report.Skipped = append(d.report.Skipped, m.Name)
		return nil
	}
	step := Step{Member: m.Name, ID: m.ID, Endpoint: m.Endpoint, Before: Usage{m.DBSize, m.DBSizeInUse}}
	if m.Leader {
		if step.MovedLeaderTo, err = d.moveLeaderAway(ctx, c, m); err != nil {
			return err
		}
		if c, err = d.awaitLeaderElsewhere(ctx, id); err != nil {
			return err
		}
	}
	step.LeaderAtDefrag = c.LeaderID
	if err := d.defragment(ctx, &step); err != nil {
		return err
	}
	if c, err = d.awaitCaughtUp(ctx, id); err != nil {
		return err
	}
	m, _ = c.Member(id)
	step.After = Usage{m.DBSize, m.DBSizeInUse}
	d.report.Steps = append(d.report.Steps, step)
	return nil
}

func (d *defragger) defragment(ctx context.Context, step *Step) error {
	d.log.Info("defragmenting etcd member", "member", step.Member, "leader", fmt.Sprintf("%x", step.LeaderAtDefrag),
		"dbSize", step.Before.DBSize, "dbSizeInUse", step.Before.DBSizeInUse)
	ctx, cancel := context.WithTimeout(ctx, d.pol.DefragTimeout)
	defer cancel()
	start := time.Now()
	if _, err := d.cli.Defragment(ctx, step.Endpoint); err != nil {
		return fmt.Errorf("defragmenting %s: %w", step.Member, err)
	}
	step.Took = time.Since(start)
	return nil
}

// awaitCaughtUp waits until the cluster is healthy again and member id has applied
// everything the leader had committed when the wait began: the next member's pause
// must not overlap this one's catching up.
func (d *defragger) awaitCaughtUp(ctx context.Context, id uint64) (Cluster, error) {
	var c Cluster
	var target uint64
	err := poll(ctx, settleInterval, d.pol.SettleTimeout, func(ctx context.Context) (bool, error) {
		var err error
		if c, err = d.healthy(ctx); err != nil {
			return false, err
		}
		leader, _ := c.Leader()
		m, _ := c.Member(id)
		if target == 0 {
			target = leader.RaftIndex
		}
		return m.RaftAppliedIndex >= target, nil
	})
	if err != nil {
		return c, fmt.Errorf("waiting for member %x to catch up after defragmentation: %w", id, err)
	}
	return c, nil
}
