package cell

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/cellplane/cellplane/api/v1alpha1"
	"github.com/cellplane/cellplane/internal/backup"
	"github.com/cellplane/cellplane/internal/backup/envelope"
	"github.com/cellplane/cellplane/internal/backup/objstore"
	"github.com/cellplane/cellplane/internal/controlplane"
	"github.com/cellplane/cellplane/internal/etcdcare"
)

// RestoreStorage is where clusters created with spec.restoreFrom read their
// source's backups: the storage and key the cells back up with.
type RestoreStorage struct {
	Storage backup.Storage
	Store   objstore.Store
	KMS     envelope.KMS
}

// A restore goes in two steps, each recorded by a file in the cluster's restore
// directory so that a cell killed at any point finishes the job when it comes
// back:
//
//  1. phaseRestore, before etcd first starts: choose the backups (saved in
//     restore.json, so every later step uses the same ones even while the
//     source keeps backing up), decrypt the full and restore it into the
//     members' data directories; then write "restored".
//  2. finishRestore, once etcd is healthy: replay the incrementals after the
//     full; then write "replayed". Replay is idempotent (a marker key in etcd),
//     so an interrupted replay is simply run again. The cluster is not ACTIVE
//     before this is done.
const (
	restoreDirName  = "restore"
	restoreJobFile  = "restore.json"
	restoredMarker  = "restored"
	replayedMarker  = "replayed"
	restoreSnapshot = "snapshot.db"
	// replayTimeout bounds one attempt at replaying; a failed attempt is retried
	// at the next poll.
	replayTimeout = 2 * time.Minute
)

// restoreJob is what a restore restores, decided once.
type restoreJob struct {
	Source string      `json:"source"` // the source cluster's name
	Prefix string      `json:"prefix"` // the backup set's prefix in the store
	Plan   backup.Plan `json:"plan"`
}

func (j restoreJob) String() string {
	return fmt.Sprintf("backup of cluster %s at revision %d", j.Source, j.Plan.Revision)
}

func restoreDir(clusterDir string) string { return filepath.Join(clusterDir, restoreDirName) }

func markerExists(dir, name string) bool {
	_, err := os.Stat(filepath.Join(dir, name))
	return err == nil
}

// writeFileSync writes data to dir/name atomically and durably: a marker that
// survives a crash must mean the step it records is on disk.
func writeFileSync(dir, name string, data []byte) error {
	tmp, err := os.CreateTemp(dir, "."+name+".tmp-")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp.Name(), filepath.Join(dir, name)); err != nil {
		return err
	}
	return syncDir(dir)
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// ReplayTarget is a restored cluster's etcd as a restore replays into it.
// dialReplayEtcd implements it over clientv3; unit tests fake it.
type ReplayTarget interface {
	Replay(ctx context.Context, snapshotRev int64, batches []etcdcare.Batch, log *slog.Logger) (etcdcare.ReplayReport, error)
	Close() error
}

// ReplayDialer connects to the etcd of the control plane p describes.
type ReplayDialer func(p *controlplane.Plan) (ReplayTarget, error)

func (r *ClusterReconciler) dialReplay() ReplayDialer {
	if r.ReplayDialer != nil {
		return r.ReplayDialer
	}
	return dialReplayEtcd
}

// phaseRestore fills the members' data directories from the source's backups
// before etcd first starts. It does nothing for clusters created empty, or once
// the full is restored.
func (r *ClusterReconciler) phaseRestore(ctx context.Context, c *v1alpha1.Cluster, p *controlplane.Plan) error {
	if c.Spec.RestoreFrom == nil {
		return nil
	}
	dir := restoreDir(p.Dir())
	if markerExists(dir, restoredMarker) {
		return nil
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("creating restore directory: %w", err)
	}
	job, err := r.restoreJob(ctx, c, dir)
	if err != nil {
		setCondition(c, v1alpha1.ConditionRestored, false, "RestoreFailed", err.Error())
		return err
	}
	c.Status.Reason = "restoring from " + job.String()
	setCondition(c, v1alpha1.ConditionRestored, false, "Restoring",
		fmt.Sprintf("restoring %s: the full at revision %d", job, job.Plan.Full.Revision))
	if err := r.restoreFull(ctx, p, dir, job); err != nil {
		setCondition(c, v1alpha1.ConditionRestored, false, "RestoreFailed", err.Error())
		return err
	}
	if err := writeFileSync(dir, restoredMarker, nil); err != nil {
		return fmt.Errorf("recording the restore: %w", err)
	}
	setCondition(c, v1alpha1.ConditionRestored, false, "Replaying", "waiting for etcd to replay the incrementals of "+job.String())
	return nil
}

// restoreJob returns the saved job, or decides and saves it.
func (r *ClusterReconciler) restoreJob(ctx context.Context, c *v1alpha1.Cluster, dir string) (restoreJob, error) {
	var job restoreJob
	data, err := os.ReadFile(filepath.Join(dir, restoreJobFile))
	if err == nil {
		if err := json.Unmarshal(data, &job); err != nil {
			return job, fmt.Errorf("reading %s: %w", restoreJobFile, err)
		}
		return job, nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return job, fmt.Errorf("reading restore job: %w", err)
	}
	if job, err = r.planRestore(ctx, c); err != nil {
		return job, err
	}
	if data, err = json.Marshal(job); err == nil {
		err = writeFileSync(dir, restoreJobFile, data)
	}
	if err != nil {
		return job, fmt.Errorf("saving restore job: %w", err)
	}
	return job, nil
}

// planRestore finds the source's backup set and the backups to restore. What
// retrying cannot fix (no backups, no such set, a revision not covered) is
// errTerminal, and the cluster fails with the reason.
func (r *ClusterReconciler) planRestore(ctx context.Context, c *v1alpha1.Cluster) (restoreJob, error) {
	src := c.Spec.RestoreFrom
	if r.Restore == nil {
		return restoreJob{}, fmt.Errorf("%w: this cell has no backup storage to restore from", errTerminal)
	}
	prefix := backup.ClusterPrefix(c.Namespace, v1alpha1.ObjectName(src.Cluster))
	where := r.Restore.Storage.Location(prefix)
	sets, err := r.listSets(ctx, prefix, src.Set)
	if err != nil {
		return restoreJob{}, err
	}
	if len(sets) == 0 && src.Set != "" {
		return restoreJob{}, fmt.Errorf("%w: no backup set %s of cluster %s in %s", errTerminal, src.Set, src.Cluster, where)
	}
	if len(sets) == 0 {
		return restoreJob{}, fmt.Errorf("%w: no backup of cluster %s in %s", errTerminal, src.Cluster, where)
	}
	set := sets[0]
	var plan backup.Plan
	if src.Revision > 0 {
		plan, err = set.catalog.PlanTo(src.Revision)
	} else {
		plan, err = set.catalog.Latest()
	}
	if err != nil {
		return restoreJob{}, fmt.Errorf("%w: backup set %s of cluster %s in %s: %w", errTerminal, set.uid, src.Cluster, where, err)
	}
	return restoreJob{Source: src.Cluster, Prefix: set.prefix, Plan: plan}, nil
}

type foundSet struct {
	uid, prefix string
	catalog     backup.Catalog
	newestFull  time.Time
}

// listSets returns the source's sets that have a full (only set uid, when given),
// the one with the newest full first.
func (r *ClusterReconciler) listSets(ctx context.Context, prefix, uid string) ([]foundSet, error) {
	objs, err := r.Restore.Store.List(ctx, prefix)
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
		cat, err := backup.NewAt(r.Restore.Store, r.Restore.KMS, prefix+u+"/").List(ctx)
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

// restoreFull decrypts the full into the restore directory and restores every
// member's data directory from it with the new cluster's names, peer URLs and
// token. etcdcare.Restore swaps the directories in only once all are ready.
func (r *ClusterReconciler) restoreFull(ctx context.Context, p *controlplane.Plan, dir string, job restoreJob) error {
	set := backup.NewAt(r.Restore.Store, r.Restore.KMS, job.Prefix)
	snap := filepath.Join(dir, restoreSnapshot)
	defer os.Remove(snap)
	if err := downloadFull(ctx, set, job.Plan.Full, snap); err != nil {
		if errors.Is(err, backup.ErrCorrupt) {
			err = fmt.Errorf("%w: %w", errTerminal, err)
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
	defer rc.Close()
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

// finishRestore replays the incrementals once etcd is healthy and reports what
// keeps the cluster from ACTIVE, or "" when nothing does.
func (r *ClusterReconciler) finishRestore(ctx context.Context, log *slog.Logger, c *v1alpha1.Cluster, p *controlplane.Plan, etcdHealthy bool) string {
	if c.Spec.RestoreFrom == nil {
		return ""
	}
	dir := restoreDir(p.Dir())
	var job restoreJob
	data, err := os.ReadFile(filepath.Join(dir, restoreJobFile))
	if err == nil {
		err = json.Unmarshal(data, &job)
	}
	if err != nil {
		return fmt.Sprintf("the restore: reading %s: %v", restoreJobFile, err)
	}
	if markerExists(dir, replayedMarker) {
		// Set on every pass: a pass that read a stale copy of the cluster may
		// have written its conditions without this one.
		setCondition(c, v1alpha1.ConditionRestored, true, "Restored",
			fmt.Sprintf("restored from %s (full at %d, incrementals to %d)", job, job.Plan.Full.Revision, job.Plan.Revision))
		return ""
	}
	if !etcdHealthy {
		return "etcd, to replay the incrementals of the restore from " + job.String()
	}
	rep, err := r.replay(ctx, p, job, log)
	if err != nil {
		setCondition(c, v1alpha1.ConditionRestored, false, "ReplayFailed", err.Error())
		return fmt.Sprintf("the restore from %s: %v", job, err)
	}
	if err := writeFileSync(dir, replayedMarker, nil); err != nil {
		return "the restore: recording the replay: " + err.Error()
	}
	log.Info("restored from backup", "source", job.Source, "set", job.Prefix, "full", job.Plan.Full.Revision,
		"revision", job.Plan.Revision, "replayed", rep.Applied)
	setCondition(c, v1alpha1.ConditionRestored, true, "Restored",
		fmt.Sprintf("restored from %s (full at %d, incrementals to %d)", job, job.Plan.Full.Revision, job.Plan.Revision))
	return ""
}

// replay applies the plan's incrementals, up to its revision, to the cluster's etcd.
func (r *ClusterReconciler) replay(ctx context.Context, p *controlplane.Plan, job restoreJob, log *slog.Logger) (etcdcare.ReplayReport, error) {
	ctx, cancel := context.WithTimeout(ctx, replayTimeout)
	defer cancel()
	if r.Restore == nil {
		return etcdcare.ReplayReport{}, errors.New("this cell has no backup storage to read incrementals from")
	}
	set := backup.NewAt(r.Restore.Store, r.Restore.KMS, job.Prefix)
	var batches []etcdcare.Batch
	for _, e := range job.Plan.Incrementals {
		data, err := set.ReadAll(ctx, e)
		if err != nil {
			return etcdcare.ReplayReport{}, fmt.Errorf("reading incremental %s: %w", e.ID(), err)
		}
		var b etcdcare.Batch
		if err := b.UnmarshalBinary(data); err != nil {
			return etcdcare.ReplayReport{}, fmt.Errorf("incremental %s: %w", e.ID(), err)
		}
		if b = truncateBatch(b, job.Plan.Revision); len(b.Events) > 0 {
			batches = append(batches, b)
		}
	}
	cli, err := r.dialReplay()(p)
	if err != nil {
		return etcdcare.ReplayReport{}, err
	}
	defer cli.Close()
	return cli.Replay(ctx, job.Plan.Full.Revision, batches, log)
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
