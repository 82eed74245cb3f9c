package restore

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/cellplane/cellplane/api/v1alpha1"
	"github.com/cellplane/cellplane/internal/backup"
	"github.com/cellplane/cellplane/internal/cell/etcdstate"
	"github.com/cellplane/cellplane/internal/cell/tenant"
	"github.com/cellplane/cellplane/internal/controlplane"
)

// InPlace restores a running cluster's etcd from its backups, in steps, each
// recorded before the next:
//
//  1. Decide what to restore and save the job. From then on every API
//     server, controller and etcd member stays stopped (etcdstate.Held), so
//     no controller acts on a half-restored store.
//  2. Restore the full into every member's data directory, with revisions
//     bumped and marked compacted, so that every client's next watch gets
//     "compacted" and relists at a revision above any it has seen. etcdcare
//     swaps the directories in only once all are ready: a failed restore
//     leaves the previous data untouched. Then record it restored.
//  3. Start etcd alone and replay the incrementals; then record it done. The
//     API servers and controllers start again on the restored data.
//  4. Once the store shows status.restore as Done, remove the records.
type InPlace struct {
	// Backups is nil in a cell without backup storage: requests fail.
	Backups *Backups
	Dial    Dialer
	Runner  tenant.Stopper
	Logger  *slog.Logger
	// Serving reports whether every API server serves; nil probes them.
	Serving func(ctx context.Context, p *controlplane.Plan) bool
}

var _ tenant.Concern = (*InPlace)(nil)

// Reconcile starts, continues or finishes an in-place restore.
func (r *InPlace) Reconcile(ctx context.Context, c *v1alpha1.Cluster, p *controlplane.Plan) error {
	rec := etcdstate.For(p)
	job, ok, err := rec.InPlace()
	if err != nil {
		return err
	}
	log := tenant.Logger(r.Logger, c)
	switch {
	case ok && rec.InPlaceDone():
		return r.finish(ctx, c, p, rec, job)
	case !ok:
		if r.start(ctx, log, c, p) {
			return tenant.ErrReplan // report Restoring before the slow steps
		}
		return nil
	}
	return r.run(ctx, log, c, p, job)
}

// start decides whether a restore starts now and saves its job.
func (r *InPlace) start(ctx context.Context, log *slog.Logger, c *v1alpha1.Cluster, p *controlplane.Plan) bool {
	job := etcdstate.InPlaceJob{StartedAt: time.Now().UTC().Truncate(time.Second)}
	req, pending, reqErr := v1alpha1.PendingRestoreRequest(c)
	switch {
	case pending:
		job.RequestID, job.Reason = req.ID, v1alpha1.RestoreReasonRequested
	case !etcdstate.For(p).Bootstrapped():
		return false
	default:
		d, err := etcdstate.ReadDisks(p)
		if err != nil || !d.QuorumLost(len(p.Members(controlplane.KindEtcd))) {
			return false
		}
		job.Reason = v1alpha1.RestoreReasonQuorumLost
		req = v1alpha1.RestoreRequest{}
	}
	err := reqErr
	if err == nil {
		err = r.plan(ctx, c, req, &job)
	}
	if err == nil {
		err = etcdstate.For(p).SaveInPlace(job)
	}
	if err != nil {
		r.refuse(log, c, job, err)
		return false
	}
	log.Warn("restoring etcd in place", "reason", job.Reason, "request", job.RequestID, "set", job.Set,
		"full", job.Plan.Full.Revision, "revision", job.Plan.Revision)
	c.Status.Restore = job.Status(v1alpha1.RestorePhaseRestoring)
	return true
}

// refuse reports a restore that cannot start: a request is answered, since
// retrying it would fail the same way; a lost quorum keeps asking.
func (r *InPlace) refuse(log *slog.Logger, c *v1alpha1.Cluster, job etcdstate.InPlaceJob, err error) {
	if st := c.Status.Restore; job.Reason == v1alpha1.RestoreReasonRequested && st != nil &&
		st.Phase == v1alpha1.RestorePhaseFailed && st.RequestID == job.RequestID && st.Message == err.Error() {
		// Answered already. A request that cannot be read stays pending (it
		// has no ID to answer), and answering it again on every pass would
		// rewrite status.restore, and log, every ten seconds.
		return
	}
	if job.Reason == v1alpha1.RestoreReasonRequested {
		log.Warn("in-place restore refused", "request", job.RequestID, "err", err)
		c.Status.Restore = job.Status(v1alpha1.RestorePhaseFailed)
		c.Status.Restore.FinishedAt, c.Status.Restore.Message = tenant.Time(time.Now()), err.Error()
		return
	}
	tenant.SetCondition(c, v1alpha1.ConditionEtcdMembers, false, "QuorumLost",
		"a majority of etcd members lost their data, and restoring from backup failed: "+err.Error())
}

// plan picks the backups: the cluster's own set unless the request names
// another set of the same cluster name.
func (r *InPlace) plan(ctx context.Context, c *v1alpha1.Cluster, req v1alpha1.RestoreRequest, job *etcdstate.InPlaceJob) error {
	if r.Backups == nil {
		return errors.New("this cell has no backup storage")
	}
	uid := req.Set
	if uid == "" {
		uid = string(c.UID)
	}
	prefix := backup.ClusterPrefix(c.Namespace, c.Name)
	sets, err := r.Backups.listSets(ctx, prefix, uid)
	if err != nil {
		return err
	}
	if len(sets) == 0 {
		return fmt.Errorf("no full backup in set %s of cluster %s in %s", uid, c.Spec.Name, r.Backups.Storage.Location(prefix))
	}
	plan, err := r.Backups.planOf(ctx, sets[0], req.Revision, tenant.Logger(r.Logger, c))
	if err != nil {
		return fmt.Errorf("backup set %s of cluster %s: %w", uid, c.Spec.Name, err)
	}
	job.Set, job.Prefix, job.Plan = uid, sets[0].prefix, plan
	return nil
}

// run takes the restore as far as it can go in this pass.
func (r *InPlace) run(ctx context.Context, log *slog.Logger, c *v1alpha1.Cluster, p *controlplane.Plan, job etcdstate.InPlaceJob) error {
	rec := etcdstate.For(p)
	what := fmt.Sprintf("backup set %s (full at revision %d, incrementals to %d)", job.Set, job.Plan.Full.Revision, job.Plan.Revision)
	st := restoreStatus(c, job)
	tenant.SetCondition(c, v1alpha1.ConditionEtcdMembers, false, "RestoringFromBackup", "restoring etcd in place from "+what)
	stopStart := time.Now()
	if err := r.stopHeld(ctx, p); err != nil {
		return err
	}
	if !rec.InPlaceRestored() {
		log.Info("control plane stopped for the restore", "took", time.Since(stopStart).Round(time.Millisecond))
		return r.restoreFull(ctx, log, c, p, job, st)
	}
	st.Phase, st.Message = v1alpha1.RestorePhaseReplaying, fmt.Sprintf("replaying incrementals to revision %d", job.Plan.Revision)
	if !etcdServes(ctx, p) {
		return nil // the processes phase starts etcd; the next pass replays
	}
	rep, err := r.Backups.replay(ctx, r.Dial, p, restoreJob(c, job), log)
	if err != nil {
		st.Message = "replaying incrementals failed, retrying: " + err.Error()
		return err
	}
	if err := rec.MarkInPlaceDone(); err != nil {
		return err
	}
	log.Info("etcd restored in place", "reason", job.Reason, "full", job.Plan.Full.Revision, "revision", job.Plan.Revision,
		"replayed", rep.Applied, "took", time.Since(job.StartedAt).Round(time.Millisecond))
	return r.finish(ctx, c, p, rec, job)
}

// restoreFull restores the full into the stopped members and records it.
func (r *InPlace) restoreFull(ctx context.Context, log *slog.Logger, c *v1alpha1.Cluster, p *controlplane.Plan, job etcdstate.InPlaceJob, st *v1alpha1.RestoreStatus) error {
	rec := etcdstate.For(p)
	restoreStart := time.Now()
	defer func() { log.Info("full restored", "took", time.Since(restoreStart).Round(time.Millisecond)) }()
	st.Phase, st.Message = v1alpha1.RestorePhaseRestoring, "restoring the full at revision "+fmt.Sprint(job.Plan.Full.Revision)+" into every etcd member"
	if err := r.Backups.restoreFull(ctx, p, rec.InPlaceScratch(), restoreJob(c, job), log); err != nil {
		st.Message = "restoring the full failed; the previous data is untouched, retrying: " + err.Error()
		return err
	}
	// The members are the snapshot's now, with their original IDs; the
	// learners recorded before are gone.
	for _, m := range p.Members(controlplane.KindEtcd) {
		if err := rec.ClearJoin(m.Name()); err != nil {
			return err
		}
	}
	if err := rec.MarkInPlaceRestored(); err != nil {
		return err
	}
	log.Info("etcd data restored from the full; starting etcd to replay", "full", job.Plan.Full.Revision)
	return tenant.ErrReplan // the members' specs may have changed with the records
}

func restoreJob(c *v1alpha1.Cluster, j etcdstate.InPlaceJob) etcdstate.RestoreJob {
	return etcdstate.RestoreJob{Source: c.Spec.Name, Prefix: j.Prefix, Plan: j.Plan}
}

// restoreStatus returns status.restore for job, creating it if the store lost it.
func restoreStatus(c *v1alpha1.Cluster, job etcdstate.InPlaceJob) *v1alpha1.RestoreStatus {
	st := c.Status.Restore
	if st == nil || !st.StartedAt.Equal(tenant.Time(job.StartedAt)) || st.RequestID != job.RequestID {
		st = job.Status("")
		c.Status.Restore = st
	}
	return st
}

// finish reports the restore done once every API server serves the restored
// data, and removes its records once the store shows that report. Until the
// API servers serve, the restore stays Replaying: a client that waits for
// Done may use the cluster at once.
func (r *InPlace) finish(ctx context.Context, c *v1alpha1.Cluster, p *controlplane.Plan, rec etcdstate.Records, job etcdstate.InPlaceJob) error {
	stored := c.Status.Restore
	if stored != nil && stored.Phase == v1alpha1.RestorePhaseDone && stored.RequestID == job.RequestID &&
		stored.StartedAt.Equal(tenant.Time(job.StartedAt)) {
		return rec.ClearInPlace()
	}
	st := restoreStatus(c, job)
	serving := r.Serving
	if serving == nil {
		serving = apiServersServe
	}
	if !serving(ctx, p) {
		// The processes phase starts them; a later pass finds them serving.
		st.Phase, st.Message = v1alpha1.RestorePhaseReplaying, "etcd restored; waiting for the API servers to serve the restored data"
		return nil
	}
	st.Phase, st.FinishedAt = v1alpha1.RestorePhaseDone, tenant.Time(time.Now())
	st.Message = fmt.Sprintf("restored in place from backup set %s: full at revision %d, incrementals to revision %d",
		job.Set, job.Plan.Full.Revision, job.Plan.Revision)
	tenant.SetCondition(c, v1alpha1.ConditionEtcdMembers, true, "RestoredFromBackup", st.Message)
	return nil
}

// heldStopTimeout is how long a held process gets to exit on SIGTERM. Its
// data is about to be replaced, so a graceful drain buys nothing: an API
// server would otherwise wait out its clients' watches.
const heldStopTimeout = 3 * time.Second

// stopHeld stops what the restore holds: every API server and controller, and
// etcd too until the full is restored. Each tier stops at once, dependents
// first.
func (r *InPlace) stopHeld(ctx context.Context, p *controlplane.Plan) error {
	for _, tier := range p.Tiers() {
		var held []controlplane.Member
		for _, m := range tier {
			if etcdstate.Held(p, m) {
				held = append(held, m)
			}
		}
		if err := tenant.StopMembers(ctx, r.Runner, p, held, heldStopTimeout, " for the restore"); err != nil {
			return err
		}
	}
	return nil
}

// etcdServes reports whether every etcd member passes its probe.
func etcdServes(ctx context.Context, p *controlplane.Plan) bool {
	pr, err := controlplane.NewProber(p)
	if err != nil {
		return false
	}
	defer pr.Close()
	for _, m := range p.Members(controlplane.KindEtcd) {
		if pr.Check(ctx, m) != nil {
			return false
		}
	}
	return true
}

// apiServersServe reports whether every API server passes its probe.
func apiServersServe(ctx context.Context, p *controlplane.Plan) bool {
	pr, err := controlplane.NewProber(p)
	if err != nil {
		return false
	}
	defer pr.Close()
	for _, m := range p.Members(controlplane.KindAPIServer) {
		if pr.CheckAPIServer(ctx, m) != nil {
			return false
		}
	}
	return true
}

// Health reports the restore while it holds the cluster down.
func (r *InPlace) Health(_ context.Context, _ *v1alpha1.Cluster, p *controlplane.Plan, _ bool) string {
	if etcdstate.For(p).InPlaceRunning() {
		return "etcd: restoring in place from backup"
	}
	return ""
}
