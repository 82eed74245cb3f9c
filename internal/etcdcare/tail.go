package etcdcare

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync/atomic"
	"time"

	"go.etcd.io/etcd/api/v3/mvccpb"
	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/cellplane/cellplane/internal/errdefs"
)

// Tailer defaults: a 2 s recovery point, and batches small enough to upload in one
// request.
const (
	DefaultFlushInterval = 2 * time.Second
	DefaultMaxBatchBytes = 4 << 20
)

// TailerConfig configures a Tailer.
type TailerConfig struct {
	Client *clientv3.Client
	// From is the last revision already covered, by a full snapshot or an earlier
	// batch; the tailer hands over events from From+1.
	From int64
	// FlushInterval is how often pending events are handed over. Default
	// DefaultFlushInterval.
	FlushInterval time.Duration
	// MaxBatchBytes hands a batch over early once its events' encoded size passes
	// it. Default DefaultMaxBatchBytes.
	MaxBatchBytes int
	// Flush receives each batch, for instance to encrypt and upload it. An error
	// stops the tailer; the batch counts as handed over only when Flush returns nil.
	Flush func(context.Context, Batch) error
	Log   *slog.Logger
}

// Tailer watches every key of a cluster and hands the events over in batches: the
// incremental half of a backup whose other half is Snapshot.
type Tailer struct {
	cfg     TailerConfig
	flushed atomic.Int64
	pending Batch
	size    int
}

// NewTailer validates cfg and fills in defaults.
func NewTailer(cfg TailerConfig) (*Tailer, error) {
	if cfg.Client == nil || cfg.Flush == nil {
		return nil, fmt.Errorf("tailer needs a client and a flush function: %w", errdefs.ErrInvalidParameter)
	}
	if cfg.From < 0 || cfg.FlushInterval < 0 || cfg.MaxBatchBytes < 0 {
		return nil, fmt.Errorf("tailer revision, interval and size must not be negative: %w", errdefs.ErrInvalidParameter)
	}
	cfg.FlushInterval = cmp.Or(cfg.FlushInterval, DefaultFlushInterval)
	cfg.MaxBatchBytes = cmp.Or(cfg.MaxBatchBytes, DefaultMaxBatchBytes)
	cfg.Log = logOrDiscard(cfg.Log)
	t := &Tailer{cfg: cfg}
	t.flushed.Store(cfg.From)
	return t, nil
}

// Flushed is the last revision handed over: where a restarted tailer resumes.
func (t *Tailer) Flushed() int64 { return t.flushed.Load() }

// Run tails until ctx ends, Flush fails or the watch breaks, and returns why. When
// the revisions it needs were compacted it returns ErrSnapshotRequired: the chain
// is broken and only a new full snapshot restarts it. Events not yet handed over
// when Run returns are dropped; the next Run, which resumes from Flushed(), sees
// them again. Run must not be called concurrently.
func (t *Tailer) Run(ctx context.Context) error {
	t.pending, t.size = Batch{}, 0
	// WithRequireLeader: a member cut off from the leader cancels the watch instead
	// of silently delivering nothing.
	wctx, cancel := context.WithCancel(clientv3.WithRequireLeader(ctx))
	defer cancel()
	from := t.Flushed() + 1
	wch := t.cfg.Client.Watch(wctx, "", clientv3.WithPrefix(), clientv3.WithRev(from))
	ticker := time.NewTicker(t.cfg.FlushInterval)
	defer ticker.Stop()
	t.cfg.Log.Info("tailing etcd", "from", from)
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-ticker.C:
			if err := t.flush(ctx); err != nil {
				return err
			}
		case resp, ok := <-wch:
			if err := t.receive(ctx, resp, ok); err != nil {
				return err
			}
		}
	}
}

func (t *Tailer) receive(ctx context.Context, resp clientv3.WatchResponse, ok bool) error {
	if err := watchError(resp, ok, t.Flushed()); err != nil {
		// Whatever arrived before the break is still a valid, gap-free run.
		if ferr := t.flush(ctx); ferr != nil {
			return errors.Join(err, ferr)
		}
		return err
	}
	for _, e := range resp.Events {
		ev := (*mvccpb.Event)(e)
		// Cut only between revisions, so a replay applies each one whole.
		if t.size >= t.cfg.MaxBatchBytes && eventRev(ev) != t.pending.Last {
			if err := t.flush(ctx); err != nil {
				return err
			}
		}
		if len(t.pending.Events) == 0 {
			t.pending.First = eventRev(ev)
		}
		t.pending.Events = append(t.pending.Events, ev)
		t.pending.Last = eventRev(ev)
		t.size += ev.Size()
	}
	// A watch response never ends inside a revision (etcd cuts its batches at
	// revision boundaries: eventBatch.add in server/storage/mvcc/watcher_group.go),
	// so the batch may be cut here too.
	if t.size >= t.cfg.MaxBatchBytes {
		return t.flush(ctx)
	}
	return nil
}

func watchError(resp clientv3.WatchResponse, ok bool, flushed int64) error {
	switch {
	case !ok:
		return fmt.Errorf("watch closed: %w", errdefs.ErrUnavailable)
	case resp.CompactRevision != 0 || errors.Is(resp.Err(), rpctypes.ErrCompacted):
		return fmt.Errorf("%w: revision %d is compacted (compaction at %d)", ErrSnapshotRequired, flushed+1, resp.CompactRevision)
	case resp.Err() != nil:
		return fmt.Errorf("watch failed: %w: %w", errdefs.ErrUnavailable, resp.Err())
	}
	return nil
}

func (t *Tailer) flush(ctx context.Context) error {
	if len(t.pending.Events) == 0 {
		return nil
	}
	b := t.pending
	if err := t.cfg.Flush(ctx, b); err != nil {
		return fmt.Errorf("flushing revisions %d..%d: %w", b.First, b.Last, err)
	}
	t.flushed.Store(b.Last)
	t.pending, t.size = Batch{}, 0
	return nil
}
