package eks

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/cellplane/cellplane/api/v1alpha1"
	"github.com/cellplane/cellplane/internal/redact"
)

// ExtensionOf copies the cell's observations into the "cellplane" object, all
// of them: the operator's view, with addresses, PIDs, the cell and the backup
// location. A tenant gets ForTenant's instead.
func ExtensionOf(c *v1alpha1.Cluster) *Extension {
	ext := &Extension{
		Cell:              c.Spec.Cell,
		Reason:            c.Status.Reason,
		KubernetesVersion: c.Status.KubernetesVersion,
	}
	for _, cs := range c.Status.Components {
		ext.Components = append(ext.Components, Component{
			Name: cs.Name, Zone: cs.Zone, Address: cs.Address, PID: cs.PID,
			Ready: cs.Ready, Restarts: cs.Restarts, Message: cs.Message,
		})
	}
	for _, cond := range c.Status.Conditions {
		ext.Conditions = append(ext.Conditions, Condition{
			Type: cond.Type, Status: string(cond.Status), Reason: cond.Reason, Message: cond.Message,
			LastTransitionTime: NewTimestamp(cond.LastTransitionTime.Time),
		})
	}
	ext.Etcd = etcdOf(c.Status.Etcd)
	ext.Backup = backupOf(c.Status.Backup)
	ext.Restore = restoreOf(c.Status.Restore)
	ext.EtcdMembership = membershipOf(c.Status.EtcdMembership)
	ext.Rollout = RolloutOf(c.Status.Rollout)
	if b := c.Status.BringUp; b != nil && c.Status.ActiveAt == nil {
		ext.BringUp = &BringUp{QueuePosition: b.QueuePosition, QueuedAt: timestamp(b.QueuedAt), AdmittedAt: timestamp(b.AdmittedAt)}
	}
	return ext
}

// RolloutOf renders a cluster's status.rollout; nil stays nil.
func RolloutOf(r *v1alpha1.RolloutStatus) *Rollout {
	if r == nil {
		return nil
	}
	out := &Rollout{Type: r.Type, UpdateID: r.UpdateID, From: r.From, To: r.To, Phase: r.Phase, Moved: r.Moved, Current: r.Current,
		Reverting: r.Reverting, Message: r.Message, Error: r.Error, StartedAt: timestamp(r.StartedAt), FinishedAt: timestamp(r.FinishedAt)}
	if r.RestorePoint != nil {
		out.RestorePointRevision = r.RestorePoint.Revision
	}
	return out
}

// ForTenant takes paths, addresses and PIDs out of the free text.
func (r *Rollout) ForTenant() *Rollout {
	if r == nil {
		return nil
	}
	out := *r
	out.Message, out.Error = redact.Text(r.Message), redact.Text(r.Error)
	return &out
}

func membershipOf(m *v1alpha1.EtcdMembership) *EtcdMembership {
	if m == nil {
		return nil
	}
	out := &EtcdMembership{BootstrappedAt: timestamp(m.BootstrappedAt)}
	for _, r := range m.Replacements {
		out.Replacements = append(out.Replacements, MemberReplacement{Member: r.Member, LearnerID: r.LearnerID, Phase: r.Phase,
			StartedAt: timestamp(r.StartedAt), PromotedAt: timestamp(r.PromotedAt)})
	}
	return out
}

func etcdOf(e *v1alpha1.EtcdStatus) *EtcdHealth {
	if e == nil {
		return nil
	}
	out := &EtcdHealth{Leader: e.Leader, Quorum: e.Quorum, QuotaBytes: e.QuotaBytes, Alarms: e.Alarms, Message: e.Message,
		LastDefragmentation: timestamp(e.LastDefragmentation), LastCompaction: timestamp(e.LastCompaction), ObservedAt: timestamp(e.ObservedAt)}
	for _, m := range e.Members {
		out.Members = append(out.Members, EtcdMember{Name: m.Name, ID: m.ID, Zone: m.Zone, Leader: m.Leader, Learner: m.Learner,
			Healthy: m.Healthy, DBSizeBytes: m.DBSizeBytes, DBSizeInUseBytes: m.DBSizeInUseBytes, Error: m.Error})
	}
	return out
}

func backupOf(b *v1alpha1.BackupStatus) *Backup {
	if b == nil {
		return nil
	}
	return &Backup{Location: b.Location, Set: b.Set, LastFullTime: timestamp(b.LastFullTime), LastFullRevision: b.LastFullRevision,
		LastFullBytes: b.LastFullBytes, LastSuccessTime: timestamp(b.LastSuccessTime), Revision: b.Revision,
		RecoveryPointTime: timestamp(b.RecoveryPointTime), Fulls: b.Fulls, LastError: b.LastError}
}

func restoreOf(r *v1alpha1.RestoreStatus) *Restore {
	if r == nil {
		return nil
	}
	return &Restore{RequestID: r.RequestID, Reason: r.Reason, Phase: r.Phase, Set: r.Set, FullRevision: r.FullRevision,
		Revision: r.Revision, StartedAt: timestamp(r.StartedAt), FinishedAt: timestamp(r.FinishedAt), Message: r.Message}
}

func timestamp(t *metav1.Time) *Timestamp {
	if t == nil {
		return nil
	}
	return NewTimestamp(t.Time)
}

// ForTenant returns what a tenant may see of x: no cell, no component
// addresses or PIDs, no backup location, and free text (reasons, messages,
// errors) with paths, addresses and PIDs taken out. x is left unchanged.
func (x *Extension) ForTenant() *Extension {
	if x == nil {
		return nil
	}
	out := &Extension{Reason: redact.Text(x.Reason), KubernetesVersion: x.KubernetesVersion,
		Etcd: x.Etcd.forTenant(), Backup: x.Backup.forTenant(), Restore: x.Restore.forTenant(), EtcdMembership: x.EtcdMembership,
		Rollout: x.Rollout.ForTenant(), BringUp: x.BringUp}
	for _, c := range x.Components {
		out.Components = append(out.Components, Component{Name: c.Name, Zone: c.Zone, Ready: c.Ready, Restarts: c.Restarts, Message: redact.Text(c.Message)})
	}
	for _, c := range x.Conditions {
		c.Message = redact.Text(c.Message)
		out.Conditions = append(out.Conditions, c)
	}
	return out
}

func (e *EtcdHealth) forTenant() *EtcdHealth {
	if e == nil {
		return nil
	}
	out := *e
	out.Message = redact.Text(e.Message)
	out.Members = nil
	for _, m := range e.Members {
		m.Error = redact.Text(m.Error)
		out.Members = append(out.Members, m)
	}
	return &out
}

func (b *Backup) forTenant() *Backup {
	if b == nil {
		return nil
	}
	out := *b
	out.Location = ""
	out.LastError = redact.Text(b.LastError)
	return &out
}

func (r *Restore) forTenant() *Restore {
	if r == nil {
		return nil
	}
	out := *r
	out.Message = redact.Text(r.Message)
	return &out
}
