package backups

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"sync"
	"sync/atomic"
	"time"

	"k8s.io/apimachinery/pkg/types"

	"github.com/cellplane/cellplane/api/v1alpha1"
	"github.com/cellplane/cellplane/internal/backup"
	"github.com/cellplane/cellplane/internal/controlplane"
	"github.com/cellplane/cellplane/internal/etcdcare"
)

// worker is the one backup writer of one cluster. Each cycle it makes sure
// a full snapshot exists, then tails etcd from the end of the backup chain,
// storing an incremental every flush interval, until the chain breaks (history
// compacted) or the worker stops. Fulls that fall due or are requested meanwhile
// are taken beside the tail, which keeps going: the incrementals it stores span
// the new full's revision, so the new full's chain needs no restart and the
// recovery point does not stall for the length of a snapshot (restore plans
// allow the overlap). It resumes from the catalog after a restart, so a cell
// restart costs no full snapshot.
type worker struct {
	r        *Runner
	key      types.NamespacedName
	set      *backup.Set
	plan     *controlplane.Plan
	location string
	setUID   string
	log      *slog.Logger
	cancel   context.CancelFunc
	done     chan struct{}

	src      Source
	needFull bool // the chain is broken: only a full restarts it

	secretsSum [32]byte // of the Secrets keys last stored with the set

	fullMu      sync.Mutex
	lastFull    time.Time // when the newest full was stored
	nextFullTry time.Time // after a failed full, when to try again
	fullRunning atomic.Bool

	status    backupStatus
	samplesMu sync.Mutex
	samples   []revisionSample
}

func (w *worker) exited() bool {
	select {
	case <-w.done:
		return true
	default:
		return false
	}
}

func (w *worker) stop() {
	w.cancel()
	<-w.done
}

func (w *worker) run(ctx context.Context) {
	defer close(w.done)
	w.log.Info("backing up cluster", "location", w.location)
	for ctx.Err() == nil {
		err := w.cycle(ctx)
		if ctx.Err() != nil {
			return
		}
		if err != nil {
			w.log.Warn("backup cycle failed", "err", err, "retry in", retryDelay)
			w.status.update(func(b *v1alpha1.BackupStatus) { b.LastError = err.Error() })
			w.patchStatus(ctx, true)
			sleep(ctx, retryDelay)
		}
	}
}

func sleep(ctx context.Context, d time.Duration) {
	select {
	case <-ctx.Done():
	case <-time.After(d):
	}
}

func (w *worker) cycle(ctx context.Context) error {
	if w.src == nil {
		src, err := w.r.Dial(w.plan)
		if err != nil {
			return err
		}
		w.src = src
	}
	if err := w.saveSecretsKeys(ctx); err != nil {
		return err
	}
	latest, err := w.catalog(ctx)
	if err != nil && !errors.Is(err, backup.ErrNoFull) {
		return err
	}
	if err != nil || w.needFull {
		if latest, err = w.full(ctx); err != nil {
			return err
		}
		w.needFull = false
	}
	return w.tail(ctx, latest.Revision)
}

// catalog reads the set and refreshes the status from it.
func (w *worker) catalog(ctx context.Context) (backup.Plan, error) {
	c, err := w.set.List(ctx)
	if err != nil {
		return backup.Plan{}, err
	}
	p, err := c.Latest()
	if err != nil {
		w.status.update(func(b *v1alpha1.BackupStatus) { b.Location, b.Set = w.location, w.setUID })
		return p, err
	}
	// A recovery point that cannot be read is only a status detail: backing up
	// goes on, and the next flush or sample sets it.
	rp, _ := w.set.RecoveryPoint(ctx, p)
	w.setLastFull(p.Full.Created)
	w.status.update(func(b *v1alpha1.BackupStatus) {
		b.Location, b.Set, b.Fulls, b.Revision = w.location, w.setUID, fullsOf(c), p.Revision
		setFull(b, p.Full)
		if b.RecoveryPointTime == nil && !rp.IsZero() {
			b.RecoveryPointTime = metaTime(rp)
		}
	})
	return p, nil
}

func (w *worker) setLastFull(t time.Time) {
	w.fullMu.Lock()
	defer w.fullMu.Unlock()
	w.lastFull = t
}

// fullDue: the last full is older than the interval, or one was requested after
// it, and no failed attempt asks to wait.
func (w *worker) fullDue(ctx context.Context) bool {
	w.fullMu.Lock()
	last, next := w.lastFull, w.nextFullTry
	w.fullMu.Unlock()
	if time.Now().Before(next) {
		return false
	}
	return time.Since(last) >= w.r.Config.FullInterval || w.requestedAfter(ctx, last)
}

// requestedAfter reports an on-demand request made after t.
func (w *worker) requestedAfter(ctx context.Context, t time.Time) bool {
	c := &v1alpha1.Cluster{}
	if err := w.r.Client.Get(ctx, w.key, c); err != nil {
		return false
	}
	v, ok := c.Annotations[v1alpha1.AnnotationBackupRequested]
	if !ok {
		return false
	}
	req, err := time.Parse(time.RFC3339Nano, v)
	// Status times travel in whole seconds. A request made in the same second
	// as the last full, after it, would see a status time that is not after the
	// request and wait forever; so it gets a full whose second is later.
	return err == nil && req.After(t.Truncate(time.Second))
}

// full takes, stores and verifies a full snapshot, then applies retention.
func (w *worker) full(ctx context.Context) (backup.Plan, error) {
	start := time.Now()
	if err := w.saveSecretsKeys(ctx); err != nil {
		return backup.Plan{}, fmt.Errorf("full backup: %w", err)
	}
	w.sample(ctx)
	e, err := w.set.PutFull(ctx, func(wr io.Writer) (int64, error) { return w.src.Snapshot(ctx, wr) })
	if err != nil {
		return backup.Plan{}, fmt.Errorf("full backup: %w", err)
	}
	w.setLastFull(e.Created)
	w.log.Info("full backup stored", "revision", e.Revision, "bytes", e.Size, "took", time.Since(start).Round(time.Millisecond))
	res, err := w.set.GC(ctx, w.r.Config.Retention, time.Now())
	if err != nil {
		w.log.Warn("removing expired backups", "err", err)
	} else if res != (backup.GCResult{}) {
		w.log.Info("removed expired backups", "fulls", res.Fulls, "incrementals", res.Incrementals, "orphans", res.Orphans)
	}
	fulls := w.countFulls(ctx)
	w.covered(e.Revision)
	w.status.update(func(b *v1alpha1.BackupStatus) {
		setFull(b, e)
		// The tail may have gone past the full meanwhile.
		b.Location, b.Set, b.Revision, b.LastSuccessTime, b.LastError = w.location, w.setUID, max(b.Revision, e.Revision), metaTime(e.Created), ""
		if fulls > 0 {
			b.Fulls = fulls
		}
	})
	w.patchStatus(ctx, true)
	return backup.Plan{Full: e, Revision: e.Revision}, nil
}

func (w *worker) countFulls(ctx context.Context) int32 {
	c, err := w.set.List(ctx)
	if err != nil {
		return 0
	}
	return fullsOf(c)
}

// fullsOf counts the catalog's fulls for status. Retention keeps a handful;
// a count past int32 would be a corrupt catalog, shown as the largest.
func fullsOf(c backup.Catalog) int32 {
	return int32(min(len(c.Fulls), math.MaxInt32))
}

// tail stores incrementals from revision from until it fails or ctx ends,
// taking fulls beside it as they fall due.
func (w *worker) tail(ctx context.Context, from int64) error {
	tctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var side sync.WaitGroup
	side.Add(1)
	go func() {
		defer side.Done()
		w.watchdog(tctx, &side, from)
	}()
	err := w.src.Tail(tctx, from, w.r.Config.FlushInterval, w.flush)
	cancel()
	side.Wait()
	if errors.Is(err, etcdcare.ErrSnapshotRequired) {
		w.log.Info("backup chain broken; taking a full backup", "reason", err)
		w.needFull = true
		return nil
	}
	return err
}

// watchdog samples the cluster's revision for the recovery point, reports
// status, and starts a full when one is due, one at a time, tracked by fulls.
func (w *worker) watchdog(ctx context.Context, fulls *sync.WaitGroup, flushed int64) {
	w.covered(flushed)
	t := time.NewTicker(pollInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		w.sample(ctx)
		w.patchStatus(ctx, false)
		if !w.fullRunning.Load() && w.fullDue(ctx) {
			w.fullRunning.Store(true)
			fulls.Add(1)
			go func() {
				defer fulls.Done()
				defer w.fullRunning.Store(false)
				w.sideFull(ctx)
			}()
		}
	}
}

// sideFull takes a full while the tail runs; a failure is reported and retried
// after a delay, the tail going on meanwhile.
func (w *worker) sideFull(ctx context.Context) {
	if _, err := w.full(ctx); err != nil && ctx.Err() == nil {
		w.log.Warn("full backup failed", "err", err, "retry in", retryDelay)
		w.fullMu.Lock()
		w.nextFullTry = time.Now().Add(retryDelay)
		w.fullMu.Unlock()
		w.status.update(func(b *v1alpha1.BackupStatus) { b.LastError = err.Error() })
		w.patchStatus(ctx, true)
	}
}

// flush stores one batch as an incremental.
func (w *worker) flush(ctx context.Context, b etcdcare.Batch) error {
	data, err := b.MarshalBinary()
	if err != nil {
		return err
	}
	observed := w.observedBy(b.Last)
	e, err := w.set.PutIncremental(ctx, b.First, b.Last, observed, data)
	if err != nil {
		return fmt.Errorf("incremental backup: %w", err)
	}
	w.covered(e.Revision)
	w.status.update(func(s *v1alpha1.BackupStatus) {
		s.Revision, s.LastSuccessTime, s.LastError = e.Revision, metaTime(e.Created), ""
	})
	w.patchStatus(ctx, false)
	return nil
}
