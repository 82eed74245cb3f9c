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

// FromBackup restores a new cluster created with spec.restoreFrom, in two
// steps, each recorded before the next:
//
//  1. Reconcile, before etcd first starts: choose the backups (saved, so
//     every later step uses the same ones even while the source keeps backing
//     up), decrypt the full and restore it into the members' data
//     directories; then record it restored.
//  2. Health, once etcd is healthy: replay the incrementals after the full;
//     then record them replayed. Replay is idempotent (a marker key in etcd),
//     so an interrupted replay is simply run again. The cluster is not ACTIVE
//     before this is done.
type FromBackup struct {
	// Backups is nil in a cell without backup storage: such clusters fail.
	Backups *Backups
	Dial    Dialer
	Logger  *slog.Logger
}

var _ tenant.Concern = (*FromBackup)(nil)

// Reconcile fills the members' data directories from the source's backups
// before etcd first starts. It does nothing for clusters created empty, or
// once the full is restored.
func (r *FromBackup) Reconcile(ctx context.Context, c *v1alpha1.Cluster, p *controlplane.Plan) error {
	rec := etcdstate.For(p)
	if c.Spec.RestoreFrom == nil || rec.Restored() {
		return nil
	}
	job, err := r.job(ctx, c, rec)
	if err != nil {
		tenant.SetCondition(c, v1alpha1.ConditionRestored, false, "RestoreFailed", err.Error())
		phase, msg := v1alpha1.RestorePhaseRestoring, "choosing the backups failed, retrying: "+err.Error()
		if errors.Is(err, tenant.ErrTerminal) {
			phase, msg = v1alpha1.RestorePhaseFailed, err.Error()
		}
		showCreated(c, job, phase, msg)
		return err
	}
	c.Status.Reason = "restoring from " + job.String()
	msg := fmt.Sprintf("restoring %s: the full at revision %d", job, job.Plan.Full.Revision)
	tenant.SetCondition(c, v1alpha1.ConditionRestored, false, "Restoring", msg)
	showCreated(c, job, v1alpha1.RestorePhaseRestoring, msg)
	scratch, err := rec.RestoreScratch()
	if err == nil {
		err = r.Backups.restoreFull(ctx, p, scratch, job, tenant.Logger(r.Logger, c))
	}
	if err != nil {
		tenant.SetCondition(c, v1alpha1.ConditionRestored, false, "RestoreFailed", err.Error())
		phase, msg := v1alpha1.RestorePhaseRestoring, "restoring the full failed, retrying: "+err.Error()
		if errors.Is(err, tenant.ErrTerminal) {
			phase, msg = v1alpha1.RestorePhaseFailed, err.Error()
		}
		showCreated(c, job, phase, msg)
		return err
	}
	if err := rec.MarkRestored(); err != nil {
		return err
	}
	msg = "waiting for etcd to replay the incrementals of " + job.String()
	tenant.SetCondition(c, v1alpha1.ConditionRestored, false, "Replaying", msg)
	showCreated(c, job, v1alpha1.RestorePhaseReplaying, msg)
	return nil
}

// job returns the saved job, or decides and saves it.
func (r *FromBackup) job(ctx context.Context, c *v1alpha1.Cluster, rec etcdstate.Records) (etcdstate.RestoreJob, error) {
	job, ok, err := rec.Restore()
	if err != nil || ok {
		return job, err
	}
	if job, err = r.plan(ctx, c); err != nil {
		return job, err
	}
	return job, rec.SaveRestore(job)
}

// plan finds the source's backup set and the backups to restore. What
// retrying cannot fix (no backups, no such set, a revision not covered) is
// tenant.ErrTerminal, and the cluster fails with the reason.
func (r *FromBackup) plan(ctx context.Context, c *v1alpha1.Cluster) (etcdstate.RestoreJob, error) {
	src := c.Spec.RestoreFrom
	if r.Backups == nil {
		return etcdstate.RestoreJob{}, fmt.Errorf("%w: this cell has no backup storage to restore from", tenant.ErrTerminal)
	}
	prefix := backup.ClusterPrefix(c.Namespace, v1alpha1.ObjectName(src.Cluster))
	where := r.Backups.Storage.Location(prefix)
	sets, err := r.Backups.listSets(ctx, prefix, src.Set)
	if err != nil {
		return etcdstate.RestoreJob{}, err
	}
	if len(sets) == 0 && src.Set != "" {
		return etcdstate.RestoreJob{}, fmt.Errorf("%w: no backup set %s of cluster %s in %s", tenant.ErrTerminal, src.Set, src.Cluster, where)
	}
	if len(sets) == 0 {
		return etcdstate.RestoreJob{}, fmt.Errorf("%w: no backup of cluster %s in %s", tenant.ErrTerminal, src.Cluster, where)
	}
	plan, err := r.Backups.planOf(ctx, sets[0], src.Revision, tenant.Logger(r.Logger, c))
	if err != nil {
		return etcdstate.RestoreJob{}, fmt.Errorf("%w: backup set %s of cluster %s in %s: %w", tenant.ErrTerminal, sets[0].uid, src.Cluster, where, err)
	}
	return etcdstate.RestoreJob{Source: src.Cluster, Prefix: sets[0].prefix, Plan: plan, StartedAt: time.Now().UTC().Truncate(time.Second)}, nil
}

// Health replays the incrementals once etcd is healthy and reports what
// keeps the cluster from ACTIVE, or "" when nothing does.
func (r *FromBackup) Health(ctx context.Context, c *v1alpha1.Cluster, p *controlplane.Plan, etcdHealthy bool) string {
	if c.Spec.RestoreFrom == nil {
		return ""
	}
	rec := etcdstate.For(p)
	job, _, err := rec.Restore()
	if err != nil {
		return "the restore: " + err.Error()
	}
	done := fmt.Sprintf("restored from %s (full at %d, incrementals to %d)", job, job.Plan.Full.Revision, job.Plan.Revision)
	if rec.Replayed() {
		// Set on every pass: a pass that read a stale copy of the cluster may
		// have written its conditions without this one.
		tenant.SetCondition(c, v1alpha1.ConditionRestored, true, "Restored", done)
		showCreated(c, job, v1alpha1.RestorePhaseDone, done)
		return ""
	}
	if !etcdHealthy {
		return "etcd, to replay the incrementals of the restore from " + job.String()
	}
	log := tenant.Logger(r.Logger, c)
	rep, err := r.Backups.replay(ctx, r.Dial, p, job, log)
	if err != nil {
		tenant.SetCondition(c, v1alpha1.ConditionRestored, false, "ReplayFailed", err.Error())
		showCreated(c, job, v1alpha1.RestorePhaseReplaying, "replaying incrementals failed, retrying: "+err.Error())
		return fmt.Sprintf("the restore from %s: %v", job, err)
	}
	if err := rec.MarkReplayed(); err != nil {
		return "the restore: " + err.Error()
	}
	log.Info("restored from backup", "source", job.Source, "set", job.Prefix, "full", job.Plan.Full.Revision,
		"revision", job.Plan.Revision, "replayed", rep.Applied)
	tenant.SetCondition(c, v1alpha1.ConditionRestored, true, "Restored", done)
	showCreated(c, job, v1alpha1.RestorePhaseDone, done)
	return ""
}

// showCreated reports the creation's restore in status.restore, unless a
// later restore (in place) reports there already.
func showCreated(c *v1alpha1.Cluster, job etcdstate.RestoreJob, phase, msg string) {
	if st := c.Status.Restore; st != nil && st.Reason != v1alpha1.RestoreReasonCreated {
		return
	}
	st := &v1alpha1.RestoreStatus{Reason: v1alpha1.RestoreReasonCreated, Phase: phase, Message: msg}
	if job.Prefix != "" {
		st.Set, st.FullRevision, st.Revision = setUID(job.Prefix), job.Plan.Full.Revision, job.Plan.Revision
	}
	if !job.StartedAt.IsZero() {
		st.StartedAt = tenant.Time(job.StartedAt)
	}
	if phase == v1alpha1.RestorePhaseDone || phase == v1alpha1.RestorePhaseFailed {
		st.FinishedAt = tenant.Time(time.Now())
		if prev := c.Status.Restore; prev != nil && prev.Phase == phase && prev.FinishedAt != nil {
			st.FinishedAt = prev.FinishedAt // reported on every pass; it ended once
		}
	}
	c.Status.Restore = st
}
