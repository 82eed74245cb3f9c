package cell

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	pb "go.etcd.io/etcd/api/v3/etcdserverpb"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/cellplane/cellplane/api/v1alpha1"
	"github.com/cellplane/cellplane/internal/controlplane"
	"github.com/cellplane/cellplane/internal/etcdcare"
)

// A member's data directory is the member: its write-ahead log is its promise
// of every entry it acknowledged. Once a cluster's etcd has formed, a member
// must never start again on an empty directory, because etcd would take it for
// a member that acknowledged nothing: one such member panics on its first
// heartbeat, two of them can elect each other and serve an empty cluster. So:
//
//   - etcd-state/bootstrapped records that the cluster's etcd formed once; from
//     then on etcdStartGuard refuses to start a member without a write-ahead log,
//     and the process runtime keeps refusing its restarts.
//   - A member that lost its data while the others keep quorum is replaced the
//     way etcd documents: removed, added back as a learner (which does not vote,
//     so it cannot cost quorum while it catches up), started empty with
//     --initial-cluster-state=existing, and promoted once its log has caught
//     up. etcd-state/<member>.join records the learner's ID between these steps,
//     so a cell killed at any point finishes the job.
//   - When a majority lost its data, no member can be replaced (removing one
//     needs quorum): the in-place restore takes over (restore_inplace.go).
const (
	etcdStateDirName    = "etcd-state"
	bootstrappedMarker  = "bootstrapped"
	joinSuffix          = ".join"
	promoteAttemptLimit = 3 * time.Second // per pass; the next pass tries again
)

// errEtcdDataLost refuses to start a member whose data is gone.
var errEtcdDataLost = errors.New("etcd member data lost")

func etcdStateDir(p *controlplane.Plan) string { return filepath.Join(p.Dir(), etcdStateDirName) }

func etcdBootstrapped(p *controlplane.Plan) bool {
	return markerExists(etcdStateDir(p), bootstrappedMarker)
}

// markEtcdBootstrapped records, once, that the cluster's etcd formed.
func markEtcdBootstrapped(p *controlplane.Plan) error {
	dir := etcdStateDir(p)
	if markerExists(dir, bootstrappedMarker) {
		return nil
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("recording that etcd formed: %w", err)
	}
	if err := writeFileSync(dir, bootstrappedMarker, nil); err != nil {
		return fmt.Errorf("recording that etcd formed: %w", err)
	}
	return nil
}

// etcdHasData reports whether dataDir holds a write-ahead log segment: what a
// member needs to rejoin its cluster as itself.
func etcdHasData(dataDir string) bool {
	segs, err := filepath.Glob(filepath.Join(dataDir, "member", "wal", "*.wal"))
	return err == nil && len(segs) > 0
}

// joinRecord is a replacement in progress or done: the learner's ID, and
// whether it has been promoted to a voter.
type joinRecord struct {
	ID       uint64 `json:"id"`
	Promoted bool   `json:"promoted"`
}

func readJoin(p *controlplane.Plan, m controlplane.Member) (joinRecord, bool, error) {
	var rec joinRecord
	data, err := os.ReadFile(filepath.Join(etcdStateDir(p), m.Name()+joinSuffix))
	if errors.Is(err, fs.ErrNotExist) {
		return rec, false, nil
	}
	if err == nil {
		err = json.Unmarshal(data, &rec)
	}
	if err != nil {
		return rec, false, fmt.Errorf("reading the replacement record of %s: %w", m.Name(), err)
	}
	return rec, true, nil
}

func writeJoin(p *controlplane.Plan, m controlplane.Member, rec joinRecord) error {
	data, err := json.Marshal(rec)
	if err == nil {
		err = writeFileSync(etcdStateDir(p), m.Name()+joinSuffix, data)
	}
	if err != nil {
		return fmt.Errorf("recording the replacement of %s: %w", m.Name(), err)
	}
	return nil
}

// joinedMembers names the members that were ever added back as learners: they
// start with --initial-cluster-state=existing (controlplane.Input.EtcdJoined).
func joinedMembers(clusterDir string) []string {
	paths, _ := filepath.Glob(filepath.Join(clusterDir, etcdStateDirName, "*"+joinSuffix))
	var out []string
	for _, path := range paths {
		out = append(out, strings.TrimSuffix(filepath.Base(path), joinSuffix))
	}
	slices.Sort(out)
	return out
}

// etcdStartGuard is member m's process.Spec.BeforeStart: after the cluster
// formed, a member starts only on its own data, or empty as a learner that
// was just added back.
func etcdStartGuard(p *controlplane.Plan, m controlplane.Member) func() error {
	return func() error {
		if !etcdBootstrapped(p) || etcdHasData(p.EtcdDataDir(m)) {
			return nil
		}
		if rec, ok, err := readJoin(p, m); err != nil || (ok && !rec.Promoted) {
			return err
		}
		return fmt.Errorf("%w: %s has no write-ahead log in %s; it is replaced through a learner, not restarted empty",
			errEtcdDataLost, m.Name(), p.EtcdDataDir(m))
	}
}

// memberDisks is what the data directories say about each etcd member.
type memberDisks struct {
	lost    []controlplane.Member // no data, and no replacement under way
	joining []controlplane.Member // added back as a learner, not yet promoted
	records map[string]joinRecord
}

func readMemberDisks(p *controlplane.Plan) (memberDisks, error) {
	d := memberDisks{records: map[string]joinRecord{}}
	for _, m := range p.Members(controlplane.KindEtcd) {
		rec, ok, err := readJoin(p, m)
		if err != nil {
			return d, err
		}
		switch {
		case ok && !rec.Promoted:
			d.records[m.Name()] = rec
			d.joining = append(d.joining, m)
		case !etcdHasData(p.EtcdDataDir(m)):
			d.lost = append(d.lost, m)
		}
	}
	return d, nil
}

// quorumLost reports whether too few members kept their data for the cluster
// to go on: only a restore from backup can bring it back.
func (d memberDisks) quorumLost(members int) bool {
	return len(d.lost)+len(d.joining) > 0 && members-len(d.lost)-len(d.joining) <= members/2
}

// EtcdMembership is the membership API of one cluster's etcd, as member
// replacement uses it. etcdConn implements it over clientv3; unit tests fake it.
type EtcdMembership interface {
	MemberList(ctx context.Context) ([]*pb.Member, error)
	RemoveMember(ctx context.Context, id uint64, log *slog.Logger) error
	AddLearner(ctx context.Context, name, peerURL string, log *slog.Logger) (etcdcare.Join, error)
	PromoteLearner(ctx context.Context, id uint64, timeout time.Duration, log *slog.Logger) error
	Close() error
}

// MembershipDialer connects to the etcd of the control plane p describes.
type MembershipDialer func(p *controlplane.Plan) (EtcdMembership, error)

func dialMembership(p *controlplane.Plan) (EtcdMembership, error) { return dialEtcdConn(p) }

func (r *ClusterReconciler) dialMembership() MembershipDialer {
	if r.MembershipDialer != nil {
		return r.MembershipDialer
	}
	return dialMembership
}

// phaseEtcdMembers replaces members that lost their data, one step per pass
// where a step must wait for etcd, while the others keep quorum. It runs
// before phaseProcesses, which starts a learner once its record exists.
func (r *ClusterReconciler) phaseEtcdMembers(ctx context.Context, c *v1alpha1.Cluster, p *controlplane.Plan) error {
	if !etcdBootstrapped(p) || inPlaceRestoreRunning(p) {
		return nil
	}
	d, err := readMemberDisks(p)
	if err != nil {
		return err
	}
	members := p.Members(controlplane.KindEtcd)
	if len(d.lost) == 0 && len(d.joining) == 0 {
		setCondition(c, v1alpha1.ConditionEtcdMembers, true, "AllMembersHaveData", "")
		return nil
	}
	if d.quorumLost(len(members)) {
		return nil // phaseInPlaceRestore's
	}
	log := r.Logger.With("cluster", c.Spec.Name, "namespace", c.Namespace)
	ms, err := r.dialMembership()(p)
	if err != nil {
		return err
	}
	defer ms.Close()
	if len(d.lost) > 0 {
		m := d.lost[0]
		setCondition(c, v1alpha1.ConditionEtcdMembers, false, "ReplacingMember",
			fmt.Sprintf("%s lost its data; removing it and adding it back as a learner", m.Name()))
		if err := r.addBack(ctx, log, p, ms, m); err != nil {
			return err
		}
		return errReplan // the member's spec now says existing; start it from a fresh plan
	}
	for _, m := range d.joining {
		rec := d.records[m.Name()]
		setCondition(c, v1alpha1.ConditionEtcdMembers, false, "ReplacingMember",
			fmt.Sprintf("%s rejoined as learner %x; promoting it once it has caught up", m.Name(), rec.ID))
		if err := ms.PromoteLearner(ctx, rec.ID, promoteAttemptLimit, log); err != nil {
			log.Info("etcd learner not promoted yet", "member", m.Name(), "err", err)
			continue
		}
		rec.Promoted = true
		if err := writeJoin(p, m, rec); err != nil {
			return err
		}
		log.Info("etcd member replaced", "member", m.Name(), "id", memberID(rec.ID))
		setCondition(c, v1alpha1.ConditionEtcdMembers, true, "MemberReplaced",
			fmt.Sprintf("%s was replaced after losing its data (now member %x)", m.Name(), rec.ID))
	}
	return nil
}

// addBack stops member m, removes it from the cluster and adds it back as a
// learner, recording the learner before it can start. Every step is safe to
// repeat: a cell killed half-way does the rest on its next pass.
func (r *ClusterReconciler) addBack(ctx context.Context, log *slog.Logger, p *controlplane.Plan, ms EtcdMembership, m controlplane.Member) error {
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
		log.Warn("etcd member lost its data; replacing it", "member", m.Name(), "id", memberID(old.ID))
		if err := ms.RemoveMember(ctx, old.ID, log); err != nil {
			return fmt.Errorf("removing %s: %w", m.Name(), err)
		}
	}
	join, err := ms.AddLearner(ctx, m.Name(), peer, log)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(etcdStateDir(p), 0o700); err != nil {
		return fmt.Errorf("recording the replacement of %s: %w", m.Name(), err)
	}
	return writeJoin(p, m, joinRecord{ID: join.ID})
}

func findPeer(list []*pb.Member, peerURL string) *pb.Member {
	for _, m := range list {
		if slices.Contains(m.PeerURLs, peerURL) {
			return m
		}
	}
	return nil
}

// etcdRecoveryHealth records that etcd formed once every member serves, and
// says what keeps etcd from whole while members are replaced or restored.
func (r *ClusterReconciler) etcdRecoveryHealth(c *v1alpha1.Cluster, p *controlplane.Plan, etcdHealthy bool) (string, error) {
	if inPlaceRestoreRunning(p) {
		return "etcd: restoring in place from backup", nil
	}
	if etcdHealthy {
		if err := markEtcdBootstrapped(p); err != nil {
			return "", err
		}
	}
	if cond := meta.FindStatusCondition(c.Status.Conditions, v1alpha1.ConditionEtcdMembers); cond != nil && cond.Status == metav1.ConditionFalse {
		return "etcd members: " + cond.Message, nil
	}
	return "", nil
}
