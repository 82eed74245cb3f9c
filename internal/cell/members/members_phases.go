package members

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"slices"
	"time"

	pb "go.etcd.io/etcd/api/v3/etcdserverpb"

	"github.com/cellplane/cellplane/api/v1alpha1"
	"github.com/cellplane/cellplane/internal/cell/etcdstate"
	"github.com/cellplane/cellplane/internal/cell/tenant"
	"github.com/cellplane/cellplane/internal/controlplane"
	"github.com/cellplane/cellplane/internal/etcdcare"
)

// promoteAttemptLimit bounds one attempt at promoting a learner in a pass;
// the next pass tries again.
const promoteAttemptLimit = 3 * time.Second

// Membership is the membership API of one cluster's etcd, as member
// replacement uses it. The cell's etcdconn.Conn implements it; unit tests
// fake it.
type Membership interface {
	MemberList(ctx context.Context) ([]*pb.Member, error)
	RemoveMember(ctx context.Context, id uint64, log *slog.Logger) error
	AddLearner(ctx context.Context, name, peerURL string, log *slog.Logger) (etcdcare.Join, error)
	PromoteLearner(ctx context.Context, id uint64, timeout time.Duration, log *slog.Logger) error
}

// Dialer returns the etcd of the control plane p describes.
type Dialer func(p *controlplane.Plan) (Membership, error)

// Replacer is the member-replacement concern of a cluster's pass.
type Replacer struct {
	Dial   Dialer
	Runner tenant.Stopper
	Logger *slog.Logger
}

var _ tenant.Concern = (*Replacer)(nil)

// Reconcile replaces members that lost their data, one step per pass where a
// step must wait for etcd, while the others keep quorum. It runs before the
// processes phase, which starts a learner once its record exists.
func (r *Replacer) Reconcile(ctx context.Context, c *v1alpha1.Cluster, p *controlplane.Plan) error {
	rec := etcdstate.For(p)
	if !rec.Bootstrapped() || rec.InPlaceRunning() {
		return nil
	}
	d, err := etcdstate.ReadDisks(p)
	if err != nil {
		return err
	}
	if len(d.Lost) == 0 && len(d.Joining) == 0 {
		tenant.SetCondition(c, v1alpha1.ConditionEtcdMembers, true, "AllMembersHaveData", "")
		return nil
	}
	if d.QuorumLost(len(p.Members(controlplane.KindEtcd))) {
		return nil // the in-place restore's
	}
	ms, err := r.Dial(p)
	if err != nil {
		return err
	}
	log := tenant.Logger(r.Logger, c)
	if len(d.Lost) > 0 {
		m := d.Lost[0]
		tenant.SetCondition(c, v1alpha1.ConditionEtcdMembers, false, "ReplacingMember",
			fmt.Sprintf("%s lost its data; removing it and adding it back as a learner", m.Name()))
		if err := r.addBack(ctx, log, p, ms, m); err != nil {
			return err
		}
		return tenant.ErrReplan // the member's spec now says existing; start it from a fresh plan
	}
	return r.promote(ctx, log, c, p, ms, d)
}

// promote promotes every learner that has caught up.
func (r *Replacer) promote(ctx context.Context, log *slog.Logger, c *v1alpha1.Cluster, p *controlplane.Plan, ms Membership, d etcdstate.Disks) error {
	for _, m := range d.Joining {
		j := d.Joins[m.Name()]
		tenant.SetCondition(c, v1alpha1.ConditionEtcdMembers, false, "ReplacingMember",
			fmt.Sprintf("%s rejoined as learner %x; promoting it once it has caught up", m.Name(), j.ID))
		if err := ms.PromoteLearner(ctx, j.ID, promoteAttemptLimit, log); err != nil {
			log.Info("etcd learner not promoted yet", "member", m.Name(), "err", err)
			continue
		}
		j.Promoted, j.PromotedAt = true, time.Now().UTC()
		if err := etcdstate.For(p).SaveJoin(m.Name(), j); err != nil {
			return err
		}
		log.Info("etcd member replaced", "member", m.Name(), "id", fmt.Sprintf("%x", j.ID))
		tenant.SetCondition(c, v1alpha1.ConditionEtcdMembers, true, "MemberReplaced",
			fmt.Sprintf("%s was replaced after losing its data (now member %x)", m.Name(), j.ID))
	}
	return nil
}

// addBack stops member m, removes it from the cluster and adds it back as a
// learner, recording the learner before it can start. Every step is safe to
// repeat: a cell killed half-way does the rest on its next pass.
func (r *Replacer) addBack(ctx context.Context, log *slog.Logger, p *controlplane.Plan, ms Membership, m controlplane.Member) error {
	spec := p.Spec(m)
	spec.StopTimeout = 5 * time.Second // its data is gone; there is nothing to flush
	if err := r.Runner.Stop(ctx, spec); err != nil {
		return fmt.Errorf("stopping %s: %w", m.Name(), err)
	}
	if err := os.RemoveAll(p.EtcdDataDir(m)); err != nil {
		return fmt.Errorf("clearing the data directory of %s: %w", m.Name(), err)
	}
	list, err := ms.MemberList(ctx)
	if err != nil {
		return err
	}
	peer := p.EtcdPeerURL(m)
	if old := findPeer(list, peer); old != nil && !old.IsLearner {
		log.Warn("etcd member lost its data; replacing it", "member", m.Name(), "id", fmt.Sprintf("%x", old.ID))
		if err := ms.RemoveMember(ctx, old.ID, log); err != nil {
			return fmt.Errorf("removing %s: %w", m.Name(), err)
		}
	}
	join, err := ms.AddLearner(ctx, m.Name(), peer, log)
	if err != nil {
		return err
	}
	return etcdstate.For(p).SaveJoin(m.Name(), etcdstate.Join{ID: join.ID, StartedAt: time.Now().UTC()})
}

func findPeer(list []*pb.Member, peerURL string) *pb.Member {
	for _, m := range list {
		if slices.Contains(m.PeerURLs, peerURL) {
			return m
		}
	}
	return nil
}

// Health says what keeps etcd from whole while a member is replaced. An
// in-place restore reports for itself.
func (r *Replacer) Health(_ context.Context, c *v1alpha1.Cluster, p *controlplane.Plan, _ bool) string {
	if etcdstate.For(p).InPlaceRunning() {
		return ""
	}
	if cond, bad := tenant.ConditionFalse(c, v1alpha1.ConditionEtcdMembers); bad {
		return "etcd members: " + cond.Message
	}
	return ""
}
