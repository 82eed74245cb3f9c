package etcdcare

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strconv"

	pb "go.etcd.io/etcd/api/v3/etcdserverpb"
	"go.etcd.io/etcd/api/v3/mvccpb"
	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/cellplane/cellplane/internal/errdefs"
)

// Replay limits. etcd refuses transactions of more than --max-txn-ops (128 by
// default) operations or --max-request-bytes (1.5 MiB); one source revision that
// needs more is applied in several transactions, the marker moving with the last.
const (
	replayMaxOps   = 100
	replayMaxBytes = 1 << 20
)

// ReplayLeaseTTL is the TTL given to a lease that a replayed key refers to but the
// restored cluster lacks (granted after the snapshot). Watch events carry lease IDs
// but not TTLs; an hour is kube-apiserver's default --event-ttl, the main user of
// leases in a control plane.
const ReplayLeaseTTL = 3600

// ReplayReport says what Replay did.
type ReplayReport struct {
	From     int64 // the last source revision already applied before this run
	To       int64 // the last source revision applied after it
	Applied  int   // source revisions applied
	Skipped  int   // events at or before From
	Reserved int   // events on ReservedPrefix keys, never replayed
}

// Replay applies batches of source events to a restored cluster, in revision
// order. snapshotRev is the revision the restore's snapshot covers. Each source
// revision is one transaction that also records it in ReplayMarkerKey, guarded by
// the marker's own revision: a crash or a concurrent replay can neither apply a
// revision twice nor skip one, and running Replay again continues where it stopped.
// Events at or before max(snapshotRev, marker) are skipped. A marker below
// snapshotRev is a previous restore generation's (restores bump revisions past
// their source's) and is ignored.
//
// Keys under ReservedPrefix are not replayed: they are cellplane's own
// bookkeeping, and the source's replay marker must not overwrite this one.
func Replay(ctx context.Context, cli *clientv3.Client, snapshotRev int64, batches []Batch, log *slog.Logger) (ReplayReport, error) {
	rp, err := newReplayer(ctx, cli, snapshotRev)
	if err != nil {
		return ReplayReport{}, err
	}
	rp.log = logOrDiscard(log)
	sorted := slices.Clone(batches)
	slices.SortStableFunc(sorted, func(a, b Batch) int { return cmp.Compare(a.First, b.First) })
	for _, b := range sorted {
		if err := rp.batch(ctx, b); err != nil {
			return rp.report, err
		}
	}
	rp.log.Info("replayed incremental batches", "from", rp.report.From, "to", rp.report.To, "revisions", rp.report.Applied)
	return rp.report, nil
}

type replayer struct {
	cli       *clientv3.Client
	log       *slog.Logger
	applied   int64 // last source revision applied
	markerRev int64 // ModRevision of the marker key (0: absent)
	leases    map[int64]bool
	report    ReplayReport
}

func newReplayer(ctx context.Context, cli *clientv3.Client, snapshotRev int64) (*replayer, error) {
	resp, err := cli.Get(ctx, ReplayMarkerKey)
	if err != nil {
		return nil, fmt.Errorf("reading replay marker: %w", err)
	}
	rp := &replayer{cli: cli, applied: snapshotRev, leases: map[int64]bool{}}
	if len(resp.Kvs) == 1 {
		kv := resp.Kvs[0]
		rp.markerRev = kv.ModRevision
		marker, err := strconv.ParseInt(string(kv.Value), 10, 64)
		if err != nil {
			return nil, fmt.Errorf("replay marker %q: %w: %w", kv.Value, errdefs.ErrInvalidRequest, err)
		}
		rp.applied = max(rp.applied, marker)
	}
	rp.report.From, rp.report.To = rp.applied, rp.applied
	return rp, nil
}

func (rp *replayer) batch(ctx context.Context, b Batch) error {
	if err := b.validate(); err != nil {
		return err
	}
	if len(b.Events) == 0 || b.Last <= rp.applied {
		rp.report.Skipped += len(b.Events)
		return nil
	}
	if b.First > rp.applied+1 {
		return fmt.Errorf("%w: next batch starts at revision %d, applied up to %d", ErrGap, b.First, rp.applied)
	}
	for _, evs := range byRevision(b.Events) {
		rev := eventRev(evs[0])
		if rev <= rp.applied {
			rp.report.Skipped += len(evs)
			continue
		}
		if err := rp.revision(ctx, rev, evs); err != nil {
			return err
		}
	}
	return nil
}

// byRevision splits events into runs of one revision each.
func byRevision(evs []*mvccpb.Event) [][]*mvccpb.Event {
	var out [][]*mvccpb.Event
	for i := 0; i < len(evs); {
		j := i + 1
		for j < len(evs) && eventRev(evs[j]) == eventRev(evs[i]) {
			j++
		}
		out = append(out, evs[i:j])
		i = j
	}
	return out
}

// revision applies one source revision's events.
func (rp *replayer) revision(ctx context.Context, rev int64, evs []*mvccpb.Event) error {
	var ops []clientv3.Op
	size := 0
	for _, ev := range evs {
		if reserved(ev.Kv.Key) {
			rp.report.Reserved++
			continue
		}
		op, err := rp.op(ctx, ev)
		if err != nil {
			return err
		}
		if len(ops) >= replayMaxOps || size+ev.Kv.Size() > replayMaxBytes {
			if err := rp.commit(ctx, ops, nil); err != nil {
				return err
			}
			ops, size = nil, 0
		}
		ops, size = append(ops, op), size+ev.Kv.Size()
	}
	if err := rp.commit(ctx, ops, &rev); err != nil {
		return err
	}
	rp.applied, rp.report.To = rev, rev
	rp.report.Applied++
	return nil
}

func (rp *replayer) op(ctx context.Context, ev *mvccpb.Event) (clientv3.Op, error) {
	if ev.Type == mvccpb.DELETE {
		return clientv3.OpDelete(string(ev.Kv.Key)), nil
	}
	var opts []clientv3.OpOption
	if ev.Kv.Lease != 0 {
		if err := rp.ensureLease(ctx, ev.Kv.Lease); err != nil {
			return clientv3.Op{}, err
		}
		opts = append(opts, clientv3.WithLease(clientv3.LeaseID(ev.Kv.Lease)))
	}
	return clientv3.OpPut(string(ev.Kv.Key), string(ev.Kv.Value), opts...), nil
}

// ensureLease grants the source's lease under its own ID when the restored
// cluster lacks it: later events name the same lease, and the keys expire as they
// would have. The public client cannot choose a lease ID, so this speaks the
// LeaseGrant RPC directly.
func (rp *replayer) ensureLease(ctx context.Context, id int64) error {
	if rp.leases[id] {
		return nil
	}
	_, err := pb.NewLeaseClient(rp.cli.ActiveConnection()).LeaseGrant(ctx, &pb.LeaseGrantRequest{ID: id, TTL: ReplayLeaseTTL})
	if err = rpctypes.Error(err); err != nil && !errors.Is(err, rpctypes.ErrLeaseExist) {
		return fmt.Errorf("granting lease %x for replay: %w", id, err)
	}
	rp.leases[id] = true
	return nil
}

// commit applies ops in one transaction guarded by the marker's revision, and,
// when rev is set, moves the marker to it.
func (rp *replayer) commit(ctx context.Context, ops []clientv3.Op, rev *int64) error {
	if rev != nil {
		ops = append(ops, clientv3.OpPut(ReplayMarkerKey, strconv.FormatInt(*rev, 10)))
	}
	if len(ops) == 0 {
		return nil
	}
	resp, err := rp.cli.Txn(ctx).
		If(clientv3.Compare(clientv3.ModRevision(ReplayMarkerKey), "=", rp.markerRev)).
		Then(ops...).Commit()
	if err != nil {
		return fmt.Errorf("replaying source revision %d: %w", rp.applied+1, err)
	}
	if !resp.Succeeded {
		return fmt.Errorf("replay marker changed under this replay (another replay running?): %w", errdefs.ErrInvalidRequest)
	}
	if rev != nil {
		rp.markerRev = resp.Header.Revision
	}
	return nil
}
