package etcdcare

import (
	"context"
	"errors"
	"fmt"
	"log/slog"

	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"
)

// Compaction defaults. kube-apiserver compacts every 5 minutes to the revision it
// saw 5 minutes before, so its history stays within about 10 minutes of writes; a
// million revisions is far beyond that at any rate a control plane sustains, so
// crossing it means the API server's compactor is not running.
const (
	DefaultMaxHistory = 1_000_000
	DefaultRetain     = 100_000
)

// CompactionPolicy says when history is too long and how much to keep.
type CompactionPolicy struct {
	// MaxHistory is how many revisions may lie between the oldest kept revision and
	// the current one before this package compacts. Default DefaultMaxHistory.
	MaxHistory int64
	// Retain is how many revisions a compaction keeps, so watchers that are a
	// little behind can resume. Default DefaultRetain; never more than MaxHistory.
	Retain int64
}

func (p CompactionPolicy) withDefaults() CompactionPolicy {
	if p.MaxHistory <= 0 {
		p.MaxHistory = DefaultMaxHistory
	}
	if p.Retain <= 0 {
		p.Retain = DefaultRetain
	}
	p.Retain = min(p.Retain, p.MaxHistory)
	return p
}

// History is the range of revisions a cluster can still serve.
type History struct {
	Oldest  int64 // the compaction revision; reads at older revisions fail
	Current int64
}

// Length is the number of revisions kept.
func (h History) Length() int64 { return h.Current - h.Oldest }

// ReadHistory finds the oldest revision still readable. etcd reports its
// compaction revision in no status call, so this searches for it: a read of a key
// at a revision older than the compaction fails with ErrCompacted before any index
// work (server/storage/mvcc/kvstore_txn.go, rangeKeys), so each of the ~log2(current)
// probes is as cheap as a read of one missing key.
func ReadHistory(ctx context.Context, cli *clientv3.Client) (History, error) {
	resp, err := cli.Get(ctx, healthKey, clientv3.WithKeysOnly())
	if err != nil {
		return History{}, fmt.Errorf("reading current revision: %w", err)
	}
	h := History{Current: resp.Header.Revision}
	lo, hi := int64(1), h.Current // the answer lies in [lo, hi]
	for lo < hi {
		mid := lo + (hi-lo)/2
		_, err := cli.Get(ctx, healthKey, clientv3.WithRev(mid), clientv3.WithKeysOnly())
		switch {
		case err == nil:
			hi = mid
		case errors.Is(err, rpctypes.ErrCompacted):
			lo = mid + 1
		default:
			return History{}, fmt.Errorf("probing revision %d: %w", mid, err)
		}
	}
	h.Oldest = lo
	return h, nil
}

// CompactionReport says what CompactIfBehind found and did.
type CompactionReport struct {
	Before      History
	CompactedTo int64 // 0 when history was short enough
}

// CompactIfBehind compacts when history grew past the policy: the backstop for an
// API server whose own compaction stopped. It is idempotent: compacting to a
// revision already compacted is a no-op.
func CompactIfBehind(ctx context.Context, cli *clientv3.Client, pol CompactionPolicy, log *slog.Logger) (CompactionReport, error) {
	pol = pol.withDefaults()
	h, err := ReadHistory(ctx, cli)
	if err != nil {
		return CompactionReport{}, err
	}
	r := CompactionReport{Before: h}
	if h.Length() <= pol.MaxHistory {
		return r, nil
	}
	r.CompactedTo = h.Current - pol.Retain
	logOrDiscard(log).Info("compacting etcd history", "oldest", h.Oldest, "current", h.Current, "to", r.CompactedTo)
	return r, compact(ctx, cli, r.CompactedTo)
}

// compact compacts to rev and waits until the serving member has freed the
// history, so a defragmentation right after reclaims the space.
func compact(ctx context.Context, cli *clientv3.Client, rev int64) error {
	_, err := cli.Compact(ctx, rev, clientv3.WithCompactPhysical())
	if err != nil && !errors.Is(err, rpctypes.ErrCompacted) {
		return fmt.Errorf("compacting to revision %d: %w", rev, err)
	}
	return nil
}
