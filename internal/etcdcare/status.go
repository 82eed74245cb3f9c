package etcdcare

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	pb "go.etcd.io/etcd/api/v3/etcdserverpb"
	clientv3 "go.etcd.io/etcd/client/v3"
	"google.golang.org/grpc"
)

// memberTimeout bounds each per-member probe. A member slower than this to answer a
// status call or a local read is not healthy: a defragmenting member, for one,
// blocks reads for the whole defragmentation.
const memberTimeout = 3 * time.Second

// maxApplyLag mirrors etcd's own limit on committed-but-unapplied entries
// (maxGapBetweenApplyAndCommitIndex in server/etcdserver/v3_server.go): past it etcd
// rejects requests with "too many requests", so the member is not serving.
const maxApplyLag = 5000

// healthKey is read (serializably, never written) to prove a member serves reads.
const healthKey = ReservedPrefix + "health"

// Member is one etcd member as it describes itself.
type Member struct {
	ID       uint64
	Name     string
	Endpoint string // the client endpoint the report came from
	PeerURLs []string
	Learner  bool
	Leader   bool   // this member is the leader
	LeaderID uint64 // the leader this member follows (0: none)
	Version  string
	Revision int64

	DBSize      int64 // bytes of the backend file in use, free pages included
	DBSizeInUse int64 // bytes holding live pages
	Quota       int64 // --quota-backend-bytes

	RaftTerm         uint64
	RaftIndex        uint64 // committed
	RaftAppliedIndex uint64

	Alarms []pb.AlarmType
	// Err says why the member is not healthy; nil when it is.
	Err error
}

// Healthy reports whether the member answered, serves reads and follows the
// cluster's leader.
func (m Member) Healthy() bool { return m.Err == nil }

// Fragmentation is the share of the backend file that defragmentation would free.
func (m Member) Fragmentation() float64 {
	if m.DBSize <= 0 {
		return 0
	}
	return 1 - float64(m.DBSizeInUse)/float64(m.DBSize)
}

// HasAlarm reports whether alarm t is raised for this member.
func (m Member) HasAlarm(t pb.AlarmType) bool { return slices.Contains(m.Alarms, t) }

// Alarm is one raised alarm.
type Alarm struct {
	MemberID uint64
	Type     pb.AlarmType
}

// Cluster is the status of every member of one etcd cluster.
type Cluster struct {
	Members  []Member // in name order
	LeaderID uint64   // the leader a majority of healthy members follows
	Quorum   bool     // a majority of voting members is healthy and agrees on it
	Alarms   []Alarm
}

// Healthy reports whether the cluster has quorum and every member is healthy.
func (c Cluster) Healthy() bool { return c.unhealthy() == nil }

// Leader returns the leading member.
func (c Cluster) Leader() (Member, bool) { return c.Member(c.LeaderID) }

// Member returns the member with this ID.
func (c Cluster) Member(id uint64) (Member, bool) {
	for _, m := range c.Members {
		if m.ID == id && id != 0 {
			return m, true
		}
	}
	return Member{}, false
}

// HasAlarm reports whether any member has alarm t raised.
func (c Cluster) HasAlarm(t pb.AlarmType) bool {
	return slices.ContainsFunc(c.Alarms, func(a Alarm) bool { return a.Type == t })
}

// QuotaUsage is the highest share of its quota any member's backend uses; etcd
// raises NOSPACE when a write would take it to 1.
func (c Cluster) QuotaUsage() float64 {
	var u float64
	for _, m := range c.Members {
		if m.Quota > 0 {
			u = max(u, float64(m.DBSize)/float64(m.Quota))
		}
	}
	return u
}

// unhealthy returns ErrUnhealthy with every reason, or nil.
func (c Cluster) unhealthy() error {
	var reasons []string
	if !c.Quorum {
		reasons = append(reasons, "no quorum")
	}
	for _, m := range c.Members {
		if m.Err != nil {
			reasons = append(reasons, fmt.Sprintf("%s: %v", m.label(), m.Err))
		}
	}
	if len(reasons) == 0 {
		return nil
	}
	return fmt.Errorf("%w: %s", ErrUnhealthy, strings.Join(reasons, "; "))
}

func (m Member) label() string {
	if m.Name != "" {
		return m.Name
	}
	if m.Endpoint != "" {
		return m.Endpoint
	}
	return fmt.Sprintf("%x", m.ID)
}

// Status reports every member of the cluster reached through cli. endpoints are
// the members' client endpoints (nil: the client's). A member that does not answer
// is listed with Err. The Cluster is returned even with an error, which only says
// that part of the picture (membership or alarms) is missing.
func Status(ctx context.Context, cli *clientv3.Client, endpoints []string) (Cluster, error) {
	probes := probeAll(ctx, cli, endpointsOf(cli, endpoints))
	var errs []error
	list, err := memberList(ctx, cli)
	if err != nil {
		errs = append(errs, err)
	}
	c := assemble(list, probes)
	if err := c.addAlarms(ctx, cli); err != nil {
		errs = append(errs, err)
	}
	return c, errors.Join(errs...)
}

func memberList(ctx context.Context, cli *clientv3.Client) ([]*pb.Member, error) {
	ctx, cancel := context.WithTimeout(ctx, memberTimeout)
	defer cancel()
	// Serializable: the list must be available without quorum, when it matters most.
	resp, err := cli.MemberList(ctx, clientv3.WithSerializable())
	if err != nil {
		return nil, fmt.Errorf("listing etcd members: %w", err)
	}
	return resp.Members, nil
}

func (c *Cluster) addAlarms(ctx context.Context, cli *clientv3.Client) error {
	ctx, cancel := context.WithTimeout(ctx, memberTimeout)
	defer cancel()
	resp, err := cli.AlarmList(ctx)
	if err != nil {
		return fmt.Errorf("listing etcd alarms: %w", err)
	}
	for _, a := range resp.Alarms {
		c.Alarms = append(c.Alarms, Alarm{MemberID: a.MemberID, Type: a.Alarm})
		for i := range c.Members {
			if c.Members[i].ID == a.MemberID {
				c.Members[i].Alarms = append(c.Members[i].Alarms, a.Alarm)
				if a.Alarm == pb.AlarmType_CORRUPT {
					c.Members[i].Err = errors.New("CORRUPT alarm raised")
				}
			}
		}
	}
	return nil
}

// probe is what one endpoint said about itself.
type probe struct {
	endpoint string
	status   *clientv3.StatusResponse
	err      error
}

func probeAll(ctx context.Context, cli *clientv3.Client, endpoints []string) []probe {
	out := make([]probe, len(endpoints))
	var wg sync.WaitGroup
	for i, ep := range endpoints {
		wg.Go(func() { out[i] = probeOne(ctx, cli, ep) })
	}
	wg.Wait()
	return out
}

func probeOne(ctx context.Context, cli *clientv3.Client, endpoint string) probe {
	p := probe{endpoint: endpoint}
	m, err := dialMember(cli, endpoint)
	if err != nil {
		p.err = err
		return p
	}
	defer m.Close()
	ctx, cancel := context.WithTimeout(ctx, memberTimeout)
	defer cancel()
	// Not WaitForReady (the client's default): a member that refuses connections
	// is reported at once, with that reason, instead of after the timeout.
	s, err := pb.NewMaintenanceClient(m.conn).Status(ctx, &pb.StatusRequest{}, grpc.WaitForReady(false))
	if err != nil {
		p.err = fmt.Errorf("status: %w", clientv3.ContextError(ctx, err))
		return p
	}
	p.status = (*clientv3.StatusResponse)(s)
	read := &pb.RangeRequest{Key: []byte(healthKey), Serializable: true, KeysOnly: true}
	if _, err := pb.NewKVClient(m.conn).Range(ctx, read, grpc.WaitForReady(false)); err != nil {
		p.err = fmt.Errorf("not serving reads: %w", clientv3.ContextError(ctx, err))
		return p
	}
	if lag := p.status.RaftIndex - min(p.status.RaftIndex, p.status.RaftAppliedIndex); lag > maxApplyLag {
		p.err = fmt.Errorf("applied index %d entries behind committed", lag)
	}
	return p
}

// assemble joins the member list with what each endpoint reported, then decides the
// leader by majority and marks members that follow another one.
func assemble(list []*pb.Member, probes []probe) Cluster {
	var c Cluster
	seen := map[uint64]bool{}
	for _, p := range probes {
		m := fromProbe(list, p)
		if m.ID != 0 {
			if seen[m.ID] {
				continue // two endpoints for one member: report it once
			}
			seen[m.ID] = true
		}
		c.Members = append(c.Members, m)
	}
	for _, lm := range list {
		if !seen[lm.ID] {
			m := fromList(lm)
			m.Err = errors.New("no endpoint reached this member")
			c.Members = append(c.Members, m)
		}
	}
	slices.SortFunc(c.Members, func(a, b Member) int {
		return cmp.Or(cmp.Compare(a.Name, b.Name), cmp.Compare(a.Endpoint, b.Endpoint))
	})
	c.decideLeader(len(list) > 0)
	return c
}

func fromList(lm *pb.Member) Member {
	return Member{ID: lm.ID, Name: lm.Name, PeerURLs: lm.PeerURLs, Learner: lm.IsLearner}
}

func fromProbe(list []*pb.Member, p probe) Member {
	m := Member{Endpoint: p.endpoint, Err: p.err}
	var lm *pb.Member
	if s := p.status; s != nil {
		lm = findMember(list, func(x *pb.Member) bool { return x.ID == s.Header.MemberId })
		m.ID, m.LeaderID, m.Version, m.Revision = s.Header.MemberId, s.Leader, s.Version, s.Header.Revision
		m.DBSize, m.DBSizeInUse, m.Quota = s.DbSize, s.DbSizeInUse, s.DbSizeQuota
		m.RaftTerm, m.RaftIndex, m.RaftAppliedIndex = s.RaftTerm, s.RaftIndex, s.RaftAppliedIndex
		m.Learner = s.IsLearner
	} else {
		lm = findMember(list, func(x *pb.Member) bool { return servesEndpoint(x, p.endpoint) })
	}
	if lm != nil {
		m.ID, m.Name, m.PeerURLs = lm.ID, lm.Name, lm.PeerURLs
		m.Learner = m.Learner || lm.IsLearner
	}
	return m
}

func findMember(list []*pb.Member, match func(*pb.Member) bool) *pb.Member {
	if i := slices.IndexFunc(list, match); i >= 0 {
		return list[i]
	}
	return nil
}

func servesEndpoint(m *pb.Member, endpoint string) bool {
	return slices.ContainsFunc(m.ClientURLs, func(u string) bool { return hostPort(u) == hostPort(endpoint) })
}

// decideLeader takes the leader most healthy voters follow (the higher term wins a
// tie: it is the newer election), marks members that follow another or none, and
// decides quorum. Without a member list every answering member counts as a voter.
func (c *Cluster) decideLeader(haveList bool) {
	votes, terms := map[uint64]int{}, map[uint64]uint64{}
	voters := 0
	for _, m := range c.Members {
		if !m.Learner && (haveList || m.Err == nil) {
			voters++
		}
		if m.Err == nil && m.LeaderID != 0 {
			votes[m.LeaderID]++
			terms[m.LeaderID] = max(terms[m.LeaderID], m.RaftTerm)
		}
	}
	for id, n := range votes {
		if best := votes[c.LeaderID]; n > best || (n == best && terms[id] > terms[c.LeaderID]) {
			c.LeaderID = id
		}
	}
	agree := 0
	for i := range c.Members {
		m := &c.Members[i]
		m.Leader = m.ID == c.LeaderID && m.ID != 0
		switch {
		case m.Err != nil:
		case m.LeaderID == 0:
			m.Err = errors.New("has no leader")
		case m.LeaderID != c.LeaderID:
			m.Err = fmt.Errorf("follows leader %x, the majority follows %x", m.LeaderID, c.LeaderID)
		case !m.Learner:
			agree++
		}
	}
	c.Quorum = voters > 0 && agree > voters/2
}
