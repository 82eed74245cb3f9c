package restore

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/cellplane/cellplane/internal/backup"
	"github.com/cellplane/cellplane/internal/backup/envelope"
	"github.com/cellplane/cellplane/internal/backup/objstore"
	"github.com/cellplane/cellplane/internal/cell/etcdstate"
	"github.com/cellplane/cellplane/internal/cell/tenant"
	"github.com/cellplane/cellplane/internal/controlplane"
	"github.com/cellplane/cellplane/internal/etcdcare"
)

// Backups is where restores read backups: the storage and key the cell backs
// up with.
type Backups struct {
	Storage backup.Storage
	Store   objstore.Store
	KMS     envelope.KMS
}

// ReplayTarget is a restored cluster's etcd as a restore replays into it.
// The cell's etcdconn.Conn implements it; unit tests fake it.
type ReplayTarget interface {
	Replay(ctx context.Context, snapshotRev int64, batches []etcdcare.Batch, log *slog.Logger) (etcdcare.ReplayReport, error)
}

// Dialer returns the etcd of the control plane p describes.
type Dialer func(p *controlplane.Plan) (ReplayTarget, error)

// replayTimeout bounds one attempt at replaying; a failed attempt is retried
// at the next pass.
const replayTimeout = 2 * time.Minute

// restoreSnapshot is the decrypted full, in the restore's scratch directory.
const restoreSnapshot = "snapshot.db"

type foundSet struct {
	uid, prefix string
	catalog     backup.Catalog
	newestFull  time.Time
}

// listSets returns the sets under prefix that have a full (only set uid,
// when given), the one with the newest full first.
func (b *Backups) listSets(ctx context.Context, prefix, uid string) ([]foundSet, error) {
	objs, err := b.Store.List(ctx, prefix)
	if err != nil {
		return nil, fmt.Errorf("listing backups: %w", err)
	}
	var uids []string
	for _, o := range objs {
		u, _, _ := strings.Cut(strings.TrimPrefix(o.Key, prefix), "/")
		if !slices.Contains(uids, u) && (uid == "" || u == uid) {
			uids = append(uids, u)
		}
	}
	var out []foundSet
	for _, u := range uids {
		cat, err := backup.NewAt(b.Store, b.KMS, prefix+u+"/").List(ctx)
		if err != nil {
			return nil, err
		}
		if n := len(cat.Fulls); n > 0 {
			out = append(out, foundSet{uid: u, prefix: prefix + u + "/", catalog: cat, newestFull: cat.Fulls[n-1].Created})
		}
	}
	slices.SortFunc(out, func(a, b foundSet) int { return b.newestFull.Compare(a.newestFull) })
	return out, nil
}

// planOf is the backups of set to restore: up to revision, or the newest the
// set covers when revision is zero.
//
// Before any member is touched it checks what it cheaply can: the full's
// manifest is authentic and in its place, and a plan to the newest revision
// reaches the newest object the writer recorded (nothing was dropped from the
// end of the set).
func (b *Backups) planOf(ctx context.Context, set foundSet, revision int64, log *slog.Logger) (backup.Plan, error) {
	plan, err := set.catalog.Latest()
	if revision > 0 {
		plan, err = set.catalog.PlanTo(revision)
	}
	if err != nil {
		return plan, err
	}
	bs := backup.NewAt(b.Store, b.KMS, set.prefix)
	bs.Logger = log
	return plan, bs.CheckPlan(ctx, plan, revision == 0)
}

// restoreFull decrypts the full into dir and restores every member's data
// directory from it with the cluster's names, peer URLs and token.
// etcdcare.Restore swaps the directories in only once all are ready: a
// failed restore leaves the previous data untouched.
func (b *Backups) restoreFull(ctx context.Context, p *controlplane.Plan, dir string, job etcdstate.RestoreJob, log *slog.Logger) error {
	set := backup.NewAt(b.Store, b.KMS, job.Prefix)
	set.Logger = log
	snap := filepath.Join(dir, restoreSnapshot)
	defer os.Remove(snap) //nolint:errcheck // scratch copy of the full; a leftover is replaced by the next restore
	if err := downloadFull(ctx, set, job.Plan.Full, snap); err != nil {
		if errors.Is(err, backup.ErrCorrupt) {
			err = fmt.Errorf("%w: %w", tenant.ErrTerminal, err)
		}
		return err
	}
	cfg := etcdcare.RestoreConfig{Etcdutl: p.Etcdutl(), Snapshot: snap, Token: p.EtcdClusterToken()}
	for _, m := range p.Members(controlplane.KindEtcd) {
		cfg.Members = append(cfg.Members, etcdcare.RestoreMember{Name: m.Name(), PeerURL: p.EtcdPeerURL(m), DataDir: p.EtcdDataDir(m)})
	}
	if err := etcdcare.Restore(ctx, cfg); err != nil {
		return fmt.Errorf("restoring etcd from %s: %w", job, err)
	}
	return nil
}

func downloadFull(ctx context.Context, set *backup.Set, full backup.Entry, path string) error {
	rc, err := set.Open(ctx, full)
	if err != nil {
		return fmt.Errorf("opening full %s: %w", full.ID(), err)
	}
	defer rc.Close() //nolint:errcheck // read-only stream; a read error shows in the copy
	f, err := os.OpenFile(path, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o600)
	if err != nil {
		return fmt.Errorf("creating snapshot file: %w", err)
	}
	_, err = io.Copy(f, rc)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("reading full %s: %w", full.ID(), err)
	}
	return nil
}

// replay applies the job's incrementals, up to its revision, to the cluster's etcd.
func (b *Backups) replay(ctx context.Context, dial Dialer, p *controlplane.Plan, job etcdstate.RestoreJob, log *slog.Logger) (etcdcare.ReplayReport, error) {
	ctx, cancel := context.WithTimeout(ctx, replayTimeout)
	defer cancel()
	set := backup.NewAt(b.Store, b.KMS, job.Prefix)
	set.Logger = log
	var batches []etcdcare.Batch
	for _, e := range job.Plan.Incrementals {
		data, err := set.ReadAll(ctx, e)
		if err != nil {
			return etcdcare.ReplayReport{}, fmt.Errorf("reading incremental %s: %w", e.ID(), err)
		}
		var bt etcdcare.Batch
		if err := bt.UnmarshalBinary(data); err != nil {
			return etcdcare.ReplayReport{}, fmt.Errorf("incremental %s: %w", e.ID(), err)
		}
		if bt = truncateBatch(bt, job.Plan.Revision); len(bt.Events) > 0 {
			batches = append(batches, bt)
		}
	}
	target, err := dial(p)
	if err != nil {
		return etcdcare.ReplayReport{}, err
	}
	return target.Replay(ctx, job.Plan.Full.Revision, batches, log)
}

// truncateBatch drops b's events after revision to: a restore to a revision
// stops there even when the last incremental goes further.
func truncateBatch(b etcdcare.Batch, to int64) etcdcare.Batch {
	if b.Last <= to {
		return b
	}
	n := 0
	for n < len(b.Events) && b.Events[n].Kv.ModRevision <= to {
		n++
	}
	if n == 0 {
		return etcdcare.Batch{}
	}
	return etcdcare.Batch{First: b.First, Last: b.Events[n-1].Kv.ModRevision, Events: b.Events[:n]}
}

// setUID is the UID of the backup set under prefix (".../<uid>/").
func setUID(prefix string) string { return filepath.Base(strings.TrimSuffix(prefix, "/")) }
