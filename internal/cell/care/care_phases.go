package care

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	pb "go.etcd.io/etcd/api/v3/etcdserverpb"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/cellplane/cellplane/api/v1alpha1"
	"github.com/cellplane/cellplane/internal/cell/tenant"
	"github.com/cellplane/cellplane/internal/etcdcare"
)

// care measures the cluster's etcd and repairs what needs it, in a fixed order:
// NOSPACE first, since the cluster takes no writes under it; then, only while
// every member is healthy, compaction and defragmentation. Each step is one call
// into etcdcare, which re-reads etcd's status before acting, so a pass cut short
// at any point (the cell killed, a member down) is finished by a later one. It
// returns the new status.etcd; failures become its message, never an error, so
// the next pass comes at the regular interval rather than at the work queue's
// back-off.
func (r *Reconciler) care(ctx context.Context, log *slog.Logger, c *v1alpha1.Cluster, st *state) *v1alpha1.EtcdStatus {
	next := &v1alpha1.EtcdStatus{LastDefragmentation: st.lastDefrag, LastCompaction: st.lastCompaction}
	if prev := c.Status.Etcd; prev != nil {
		// The later of what the store says and what this process last wrote: the
		// cache may not show that write yet.
		next.LastDefragmentation = laterTime(next.LastDefragmentation, prev.LastDefragmentation)
		next.LastCompaction = laterTime(next.LastCompaction, prev.LastCompaction)
	}
	defer func() { st.lastDefrag, st.lastCompaction = next.LastDefragmentation, next.LastCompaction }()
	cl, err := r.measure(ctx, c, st, next)
	switch {
	case len(cl.Members) == 0:
		next.Message = "cannot reach etcd: " + tenant.ErrText(err)
	case cl.HasAlarm(pb.AlarmType_NOSPACE):
		r.recoverNoSpace(ctx, log, c, st, next)
	case err != nil:
		next.Message = "etcd status incomplete: " + err.Error()
	case !cl.Healthy():
		next.Message = "no repairs while etcd is unhealthy: " + strings.Join(unhealthyMembers(cl), "; ")
	default:
		r.evacuateLeader(ctx, log, c, cl, st, next)
		r.compact(ctx, log, st, next)
		if due := r.dueForDefrag(cl); len(due) > 0 {
			r.defragment(ctx, log, c, st, due, next)
		} else if prev := c.Status.Etcd; prev != nil && strings.HasPrefix(prev.Message, defragInProgress) {
			// The pass that wrote this died before recording its end (the cell
			// was killed); every member is done now, the last ones by etcd
			// itself after its caller went away.
			next.LastDefragmentation = tenant.Time(r.Now())
			next.Message = "defragmentation finished; the pass that started it was interrupted"
			log.Info("etcd defragmentation found finished after an interrupted pass")
		}
	}
	if next.Message == "" && r.Now().Before(st.noSpaceRetryAt) {
		next.Message = st.overQuota
	}
	return next
}

// measure reads etcd's status into next. The Cluster is partial when err is set.
func (r *Reconciler) measure(ctx context.Context, c *v1alpha1.Cluster, st *state, next *v1alpha1.EtcdStatus) (etcdcare.Cluster, error) {
	ctx, cancel := context.WithTimeout(ctx, measureTimeout)
	defer cancel()
	cl, err := st.ops.Status(ctx)
	fillEtcdStatus(next, cl, st.zones, c.Spec.EtcdQuota(), metav1.NewTime(r.Now()))
	return cl, err
}

// evacuateLeader moves etcd's leadership out of a zone shifted out of the cell,
// to the most caught-up healthy voter elsewhere.
func (r *Reconciler) evacuateLeader(ctx context.Context, log *slog.Logger, c *v1alpha1.Cluster, cl etcdcare.Cluster, st *state, next *v1alpha1.EtcdStatus) {
	l, ok := cl.Leader()
	if !ok || !r.Zones.Shifted(st.zones[l.Name]) {
		return
	}
	var to *etcdcare.Member
	for i, m := range cl.Members {
		if m.ID != l.ID && m.Healthy() && !m.Learner && !r.Zones.Shifted(st.zones[m.Name]) &&
			(to == nil || m.RaftAppliedIndex > to.RaftAppliedIndex) {
			to = &cl.Members[i]
		}
	}
	if to == nil {
		next.Message = "etcd's leader " + l.Name + " is in a shifted zone, and no healthy member elsewhere can lead"
		return
	}
	if err := st.ops.MoveLeader(ctx, cl, to.ID); err != nil {
		log.Warn("moving etcd leadership out of a shifted zone", "from", l.Name, "to", to.Name, "err", err)
		next.Message = "moving etcd leadership out of shifted zone " + st.zones[l.Name] + ": " + err.Error()
		return
	}
	log.Info("etcd leadership moved out of a shifted zone", "from", l.Name, "to", to.Name)
	next.Message = fmt.Sprintf("moved etcd leadership from %s to %s: zone %s is shifted out", l.Name, to.Name, st.zones[l.Name])
	r.remeasure(ctx, c, st, next)
}

// remeasure refreshes next after a repair, keeping the repair's message.
func (r *Reconciler) remeasure(ctx context.Context, c *v1alpha1.Cluster, st *state, next *v1alpha1.EtcdStatus) {
	msg := next.Message
	_, _ = r.measure(ctx, c, st, next)
	next.Message = msg
}

// dueForDefrag names the members the policy would defragment now.
func (r *Reconciler) dueForDefrag(cl etcdcare.Cluster) []string {
	var due []string
	for _, m := range cl.Members {
		if r.Defrag.Needs(m) {
			due = append(due, m.Name)
		}
	}
	return due
}

// compact is the backstop for an API server whose own compaction stopped.
func (r *Reconciler) compact(ctx context.Context, log *slog.Logger, st *state, next *v1alpha1.EtcdStatus) {
	ctx, cancel := context.WithTimeout(ctx, compactTimeout)
	defer cancel()
	rep, err := st.ops.CompactIfBehind(ctx, r.Compaction, log)
	if err != nil {
		log.Warn("etcd compaction failed", "err", err)
		next.Message = "compaction failed: " + err.Error()
		return
	}
	if rep.CompactedTo > 0 {
		next.LastCompaction = tenant.Time(r.Now())
		log.Info("etcd history compacted", "oldest", rep.Before.Oldest, "current", rep.Before.Current, "to", rep.CompactedTo)
	}
}

// defragInProgress starts status.etcd.message while a defragmentation pass
// runs. It stays there only if the pass died: the pass overwrites it when it
// ends, and a later pass that finds it with nothing left to do records the end.
const defragInProgress = "defragmentation in progress: "

// defragment defragments the members the policy picks, the leader last and only
// after leadership moved away from it. It reports the pass before it starts,
// which shows progress on large databases and lets a restarted cell see that a
// pass was cut short.
func (r *Reconciler) defragment(ctx context.Context, log *slog.Logger, c *v1alpha1.Cluster, st *state, due []string, next *v1alpha1.EtcdStatus) {
	ctx, cancel := context.WithTimeout(ctx, repairTimeout)
	defer cancel()
	next.Message = defragInProgress + strings.Join(due, ", ")
	if err := r.patchEtcdStatus(ctx, c, next); err != nil {
		log.Warn("reporting the defragmentation", "err", err)
	}
	next.Message = ""
	rep, err := st.ops.Defragment(ctx, r.Defrag, log)
	logDefragReport(log, next, rep)
	if len(rep.Steps) > 0 {
		next.LastDefragmentation = tenant.Time(r.Now())
		next.Message = "defragmented " + describeSteps(next, rep.Steps)
	}
	if err != nil {
		log.Warn("etcd defragmentation stopped", "err", err)
		next.Message = strings.TrimPrefix(next.Message+"; ", "; ") + "defragmentation stopped: " + err.Error()
	}
	r.remeasure(ctx, c, st, next)
}

// recoverNoSpace clears a NOSPACE alarm. When live data alone fills the quota it
// says what to delete and holds further attempts back for OverQuotaBackoff.
func (r *Reconciler) recoverNoSpace(ctx context.Context, log *slog.Logger, c *v1alpha1.Cluster, st *state, next *v1alpha1.EtcdStatus) {
	if r.Now().Before(st.noSpaceRetryAt) {
		next.Message = st.overQuota
		return
	}
	ctx, cancel := context.WithTimeout(ctx, repairTimeout)
	defer cancel()
	start := r.Now()
	rep, err := st.ops.RecoverNoSpace(ctx, r.Defrag, log)
	logDefragReport(log, next, rep.Defrag)
	if rep.CompactedTo > 0 {
		next.LastCompaction = tenant.Time(r.Now())
	}
	if len(rep.Defrag.Steps) > 0 {
		next.LastDefragmentation = tenant.Time(r.Now())
	}
	var over *etcdcare.OverQuotaError
	switch {
	case errors.As(err, &over):
		st.overQuota = overQuotaMessage(over, len(rep.Disarmed) > 0)
		st.noSpaceRetryAt = r.Now().Add(r.OverQuotaBackoff)
		next.Message = st.overQuota
		log.Warn("etcd live data over quota", "liveBytes", over.LiveBytes, "quota", over.Quota, "retryIn", r.OverQuotaBackoff)
	case err != nil:
		next.Message = "recovering from NOSPACE: " + err.Error()
		log.Warn("etcd NOSPACE recovery stopped; retrying", "err", err)
	default:
		st.overQuota, st.noSpaceRetryAt = "", time.Time{}
		next.Message = fmt.Sprintf("recovered from NOSPACE in %s: compacted to revision %d, defragmented %d members, alarm disarmed",
			r.Now().Sub(start).Round(time.Millisecond), rep.CompactedTo, len(rep.Defrag.Steps))
		log.Info("etcd recovered from NOSPACE", "took", r.Now().Sub(start), "compactedTo", rep.CompactedTo,
			"liveBytes", rep.LiveBytes, "dbSize", rep.DBSize, "quota", rep.Quota)
	}
	r.remeasure(ctx, c, st, next)
}

// overQuotaMessage tells the user what to delete: the largest key prefixes.
func overQuotaMessage(e *etcdcare.OverQuotaError, disarmed bool) string {
	var b strings.Builder
	fmt.Fprintf(&b, "etcd live data is %s of the %s quota even after compaction and defragmentation",
		formatBytes(e.LiveBytes), formatBytes(e.Quota))
	if disarmed {
		b.WriteString(" (alarm disarmed, but it will be back soon)")
	}
	b.WriteString("; delete data or raise the quota. Largest prefixes:")
	for i, p := range e.Top {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, " %s (%d keys, %s)", p.Prefix, p.Keys, formatBytes(p.Bytes))
	}
	return b.String()
}

// logDefragReport logs one line per defragmented member with etcd's own view of
// the leader at the moment of its defragmentation, which is the evidence that no
// leader was ever defragmented.
func logDefragReport(log *slog.Logger, names *v1alpha1.EtcdStatus, rep etcdcare.Report) {
	for i, s := range rep.Steps {
		log.Info("etcd member defragmented", "step", i+1, "member", s.Member, "id", memberID(s.ID),
			"leaderAtDefrag", memberName(names, s.LeaderAtDefrag), "movedLeaderTo", memberName(names, s.MovedLeaderTo),
			"dbSizeBefore", s.Before.DBSize, "dbSizeAfter", s.After.DBSize, "inUseAfter", s.After.DBSizeInUse, "took", s.Took)
	}
	if len(rep.Skipped) > 0 {
		log.Info("etcd members not due for defragmentation", "members", strings.Join(rep.Skipped, ","))
	}
}

func describeSteps(names *v1alpha1.EtcdStatus, steps []etcdcare.Step) string {
	var parts []string
	var freed int64
	for _, s := range steps {
		p := s.Member
		if s.MovedLeaderTo != 0 {
			p += " (after moving leadership to " + memberName(names, s.MovedLeaderTo) + ")"
		}
		parts = append(parts, p)
		freed += s.Before.DBSize - s.After.DBSize
	}
	return strings.Join(parts, ", ") + ", freeing " + formatBytes(freed)
}

func unhealthyMembers(cl etcdcare.Cluster) []string {
	var out []string
	if !cl.Quorum {
		out = append(out, "no quorum")
	}
	for _, m := range cl.Members {
		if m.Err != nil {
			out = append(out, m.Name+": "+m.Err.Error())
		}
	}
	return out
}

func laterTime(a, b *metav1.Time) *metav1.Time {
	if a == nil || (b != nil && b.After(a.Time)) {
		return b
	}
	return a
}

// formatBytes prints a size in binary units, as quotas are given.
func formatBytes(n int64) string {
	const unit = 1024
	if n < unit && n > -unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit || m <= -unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}
