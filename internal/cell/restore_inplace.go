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
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/cellplane/cellplane/api/v1alpha1"
	"github.com/cellplane/cellplane/internal/backup"
	"github.com/cellplane/cellplane/internal/controlplane"
)

// An in-place restore replaces a running cluster's etcd data with its backups:
// on request (backup restore), or on its own when a majority of members lost
// their data and etcd can never form a quorum again. It goes in steps, each
// recorded by a file in restore-inplace/ so that a cell killed at any point
// finishes the job when it comes back:
//
//  1. Decide what to restore and save it in job.json. From then on every API
//     server, controller and etcd member stays stopped, so no controller acts
//     on a half-restored store.
//  2. Restore the full into every member's data directory, with revisions
//     bumped and marked compacted, so that every client's next watch gets
//     "compacted" and relists at a revision above any it has seen. etcdcare
//     swaps the directories in only once all are ready: a failed restore
//     leaves the previous data untouched. Then write "restored".
//  3. Start etcd alone and replay the incrementals; then write "done". The API
//     servers and controllers start again on the restored data.
//  4. Once the store shows status.restore as Done, remove the directory.
const (
	inPlaceDirName = "restore-inplace"
	inPlaceJobFile = "job.json"
	doneMarker     = "done"
)

// inPlaceJob is what an in-place restore restores, decided once.
type inPlaceJob struct {
	RequestID string      `json:"requestID,omitempty"`
	Reason    string      `json:"reason"`
	Set       string      `json:"set"`
	Prefix    string      `json:"prefix"`
	Plan      backup.Plan `json:"plan"`
	StartedAt time.Time   `json:"startedAt"`
}

// status is the job's status.restore in phase, before any message.
func (j inPlaceJob) status(phase string) *v1alpha1.RestoreStatus {
	return &v1alpha1.RestoreStatus{RequestID: j.RequestID, Reason: j.Reason, Phase: phase, Set: j.Set,
		FullRevision: j.Plan.Full.Revision, Revision: j.Plan.Revision, StartedAt: ptrTime(j.StartedAt)}
}

func (j inPlaceJob) restoreJob(name string) restoreJob {
	return restoreJob{Source: name, Prefix: j.Prefix, Plan: j.Plan}
}

func inPlaceDir(p *controlplane.Plan) string { return filepath.Join(p.Dir(), inPlaceDirName) }

// inPlaceRestoreRunning reports whether an in-place restore holds the cluster's
// processes stopped.
func inPlaceRestoreRunning(p *controlplane.Plan) bool {
	dir := inPlaceDir(p)
	return markerExists(dir, inPlaceJobFile) && !markerExists(dir, doneMarker)
}

// heldByRestore reports whether phaseProcesses must leave member m stopped:
// everything while the full is restored, everything but etcd while it replays.
func heldByRestore(p *controlplane.Plan, m controlplane.Member) bool {
	if !inPlaceRestoreRunning(p) {
		return false
	}
	return m.Kind != controlplane.KindEtcd || !markerExists(inPlaceDir(p), restoredMarker)
}

func readInPlaceJob(dir string) (inPlaceJob, bool, error) {
	var job inPlaceJob
	data, err := os.ReadFile(filepath.Join(dir, inPlaceJobFile))
	if errors.Is(err, fs.ErrNotExist) {
		return job, false, nil
	}
	if err == nil {
		err = json.Unmarshal(data, &job)
	}
	if err != nil {
		return job, false, fmt.Errorf("reading the in-place restore job: %w", err)
	}
	return job, true, nil
}

// phaseInPlaceRestore starts, continues or finishes an in-place restore.
func (r *ClusterReconciler) phaseInPlaceRestore(ctx context.Context, c *v1alpha1.Cluster, p *controlplane.Plan) error {
	dir := inPlaceDir(p)
	job, ok, err := readInPlaceJob(dir)
	if err != nil {
		return err
	}
	log := r.Logger.With("cluster", c.Spec.Name, "namespace", c.Namespace)
	if ok && markerExists(dir, doneMarker) {
		return r.finishInPlace(c, dir, job)
	}
	if !ok {
		if _, ok = r.startInPlace(ctx, log, c, p); ok {
			return errReplan // report Restoring before the slow steps
		}
		return nil
	}
	return r.runInPlace(ctx, log, c, p, job)
}

// startInPlace decides whether a restore starts now and saves its job.
func (r *ClusterReconciler) startInPlace(ctx context.Context, log *slog.Logger, c *v1alpha1.Cluster, p *controlplane.Plan) (inPlaceJob, bool) {
	job := inPlaceJob{StartedAt: time.Now().UTC().Truncate(time.Second)}
	req, pending, reqErr := v1alpha1.PendingRestoreRequest(c)
	switch {
	case pending:
		job.RequestID, job.Reason = req.ID, v1alpha1.RestoreReasonRequested
	case !etcdBootstrapped(p):
		return job, false
	default:
		d, err := readMemberDisks(p)
		if err != nil || !d.quorumLost(len(p.Members(controlplane.KindEtcd))) {
			return job, false
		}
		job.Reason = v1alpha1.RestoreReasonQuorumLost
		req = v1alpha1.RestoreRequest{}
	}
	err := reqErr
	if err == nil {
		err = r.planInPlace(ctx, c, req, &job)
	}
	if err == nil {
		err = saveInPlaceJob(inPlaceDir(p), job)
	}
	if err != nil {
		if job.Reason == v1alpha1.RestoreReasonRequested {
			// The request is answered: retrying it would fail the same way.
			log.Warn("in-place restore refused", "request", job.RequestID, "err", err)
			c.Status.Restore = job.status(v1alpha1.RestorePhaseFailed)
			c.Status.Restore.FinishedAt, c.Status.Restore.Message = ptrTime(time.Now()), err.Error()
		} else {
			setCondition(c, v1alpha1.ConditionEtcdMembers, false, "QuorumLost",
				"a majority of etcd members lost their data, and restoring from backup failed: "+err.Error())
		}
		return job, false
	}
	log.Warn("restoring etcd in place", "reason", job.Reason, "request", job.RequestID, "set", job.Set,
		"full", job.Plan.Full.Revision, "revision", job.Plan.Revision)
	c.Status.Restore = job.status(v1alpha1.RestorePhaseRestoring)
	return job, true
}

// planInPlace picks the backups: the cluster's own set unless the request
// names another set of the same cluster name.
func (r *ClusterReconciler) planInPlace(ctx context.Context, c *v1alpha1.Cluster, req v1alpha1.RestoreRequest, job *inPlaceJob) error {
	if r.Restore == nil {
		return errors.New("this cell has no backup storage")
	}
	uid := req.Set
	if uid == "" {
		uid = string(c.UID)
	}
	prefix := backup.ClusterPrefix(c.Namespace, c.Name)
	sets, err := r.listSets(ctx, prefix, uid)
	if err != nil {
		return err
	}
	if len(sets) == 0 {
		return fmt.Errorf("no full backup in set %s of cluster %s in %s", uid, c.Spec.Name, r.Restore.Storage.Location(prefix))
	}
	var plan backup.Plan
	if req.Revision > 0 {
		plan, err = sets[0].catalog.PlanTo(req.Revision)
	} else {
		plan, err = sets[0].catalog.Latest()
	}
	if err != nil {
		return fmt.Errorf("backup set %s of cluster %s: %w", uid, c.Spec.Name, err)
	}
	job.Set, job.Prefix, job.Plan = uid, sets[0].prefix, plan
	return nil
}

func saveInPlaceJob(dir string, job inPlaceJob) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("creating the in-place restore directory: %w", err)
	}
	data, err := json.Marshal(job)
	if err == nil {
		err = writeFileSync(dir, inPlaceJobFile, data)
	}
	if err != nil {
		return fmt.Errorf("saving the in-place restore job: %w", err)
	}
	return nil
}

// runInPlace takes the restore as far as it can go in this pass.
func (r *ClusterReconciler) runInPlace(ctx context.Context, log *slog.Logger, c *v1alpha1.Cluster, p *controlplane.Plan, job inPlaceJob) error {
	dir := inPlaceDir(p)
	what := fmt.Sprintf("backup set %s (full at revision %d, incrementals to %d)", job.Set, job.Plan.Full.Revision, job.Plan.Revision)
	st := r.restoreStatus(c, job)
	setCondition(c, v1alpha1.ConditionEtcdMembers, false, "RestoringFromBackup", "restoring etcd in place from "+what)
	stopStart := time.Now()
	if err := r.stopHeld(ctx, p); err != nil {
		return err
	}
	if !markerExists(dir, restoredMarker) {
		log.Info("control plane stopped for the restore", "took", time.Since(stopStart).Round(time.Millisecond))
		restoreStart := time.Now()
		defer func() { log.Info("full restored", "took", time.Since(restoreStart).Round(time.Millisecond)) }()
		st.Phase, st.Message = v1alpha1.RestorePhaseRestoring, "restoring the full at revision "+fmt.Sprint(job.Plan.Full.Revision)+" into every etcd member"
		if err := r.restoreFull(ctx, p, dir, job.restoreJob(c.Spec.Name)); err != nil {
			st.Message = "restoring the full failed; the previous data is untouched, retrying: " + err.Error()
			return err
		}
		// The members are the snapshot's now, with their original IDs; the
		// learners recorded before are gone.
		for _, m := range p.Members(controlplane.KindEtcd) {
			if err := os.Remove(filepath.Join(etcdStateDir(p), m.Name()+joinSuffix)); err != nil && !errors.Is(err, fs.ErrNotExist) {
				return fmt.Errorf("clearing the replacement record of %s: %w", m.Name(), err)
			}
		}
		if err := writeFileSync(dir, restoredMarker, nil); err != nil {
			return fmt.Errorf("recording the restore: %w", err)
		}
		log.Info("etcd data restored from the full; starting etcd to replay", "full", job.Plan.Full.Revision)
		return errReplan // the members' specs may have changed with the records
	}
	st.Phase, st.Message = v1alpha1.RestorePhaseReplaying, fmt.Sprintf("replaying incrementals to revision %d", job.Plan.Revision)
	if !r.etcdServes(ctx, c, p) {
		return nil // phaseProcesses starts etcd; the next pass replays
	}
	rep, err := r.replay(ctx, p, job.restoreJob(c.Spec.Name), log)
	if err != nil {
		st.Message = "replaying incrementals failed, retrying: " + err.Error()
		return err
	}
	if err := writeFileSync(dir, doneMarker, nil); err != nil {
		return fmt.Errorf("recording the restore: %w", err)
	}
	log.Info("etcd restored in place", "reason", job.Reason, "full", job.Plan.Full.Revision, "revision", job.Plan.Revision,
		"replayed", rep.Applied, "took", time.Since(job.StartedAt).Round(time.Millisecond))
	return r.finishInPlace(c, dir, job)
}

// restoreStatus returns status.restore for job, creating it if the store lost it.
func (r *ClusterReconciler) restoreStatus(c *v1alpha1.Cluster, job inPlaceJob) *v1alpha1.RestoreStatus {
	st := c.Status.Restore
	if st == nil || !st.StartedAt.Equal(ptrTime(job.StartedAt)) || st.RequestID != job.RequestID {
		st = job.status("")
		c.Status.Restore = st
	}
	return st
}

// finishInPlace reports the restore done, and removes its directory once the
// store shows that report.
func (r *ClusterReconciler) finishInPlace(c *v1alpha1.Cluster, dir string, job inPlaceJob) error {
	stored := c.Status.Restore
	if stored != nil && stored.Phase == v1alpha1.RestorePhaseDone && stored.RequestID == job.RequestID &&
		stored.StartedAt.Equal(ptrTime(job.StartedAt)) {
		if err := os.RemoveAll(dir); err != nil {
			return fmt.Errorf("removing the finished in-place restore: %w", err)
		}
		return nil
	}
	st := r.restoreStatus(c, job)
	st.Phase, st.FinishedAt = v1alpha1.RestorePhaseDone, ptrTime(time.Now())
	st.Message = fmt.Sprintf("restored in place from backup set %s: full at revision %d, incrementals to revision %d",
		job.Set, job.Plan.Full.Revision, job.Plan.Revision)
	setCondition(c, v1alpha1.ConditionEtcdMembers, true, "RestoredFromBackup", st.Message)
	return nil
}

// heldStopTimeout is how long a held process gets to exit on SIGTERM. Its
// data is about to be replaced, so a graceful drain buys nothing: an API
// server would otherwise wait out its clients' watches.
const heldStopTimeout = 3 * time.Second

// stopHeld stops what the restore holds: every API server and controller, and
// etcd too until the full is restored. Each tier stops at once, dependents
// first.
func (r *ClusterReconciler) stopHeld(ctx context.Context, p *controlplane.Plan) error {
	for _, tier := range [][]string{
		{controlplane.KindControllerManager, controlplane.KindScheduler}, {controlplane.KindAPIServer}, {controlplane.KindEtcd},
	} {
		g, gctx := errgroup.WithContext(ctx)
		for _, kind := range tier {
			for _, m := range p.Members(kind) {
				if !heldByRestore(p, m) {
					continue
				}
				g.Go(func() error {
					spec := p.Spec(m)
					spec.StopTimeout = heldStopTimeout
					if err := r.Runner.Stop(gctx, spec); err != nil {
						return fmt.Errorf("stopping %s for the restore: %w", m.Name(), err)
					}
					return nil
				})
			}
		}
		if err := g.Wait(); err != nil {
			return err
		}
	}
	return nil
}

// etcdServes reports whether every etcd member passes its probe.
func (r *ClusterReconciler) etcdServes(ctx context.Context, c *v1alpha1.Cluster, p *controlplane.Plan) bool {
	pr, err := r.prober(c, p)
	if err != nil {
		return false
	}
	members := p.Members(controlplane.KindEtcd)
	return kindHealthy(members, probeAll(ctx, pr, members), controlplane.KindEtcd)
}
