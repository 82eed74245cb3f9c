package api

import (
	"encoding/json"
	"fmt"
	"maps"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/cellplane/cellplane/api/v1alpha1"
	"github.com/cellplane/cellplane/internal/eks"
)

// toWire renders a stored cluster as EKS's Cluster plus cellplane's extension.
func (s *server) toWire(account string, c *v1alpha1.Cluster) *eks.Cluster {
	echo := echoedOf(c)
	return &eks.Cluster{
		Name:                 c.Spec.Name,
		Arn:                  s.arn(account, c.Spec.Name),
		CreatedAt:            eks.NewTimestamp(c.CreationTimestamp.Time),
		Version:              c.Spec.Version,
		Endpoint:             c.Status.Endpoint,
		RoleArn:              echo.RoleArn,
		ResourcesVpcConfig:   echo.ResourcesVpcConfig,
		Status:               wireStatus(c),
		CertificateAuthority: &eks.Certificate{Data: c.Status.CertificateAuthorityData},
		ClientRequestToken:   c.Spec.ClientRequestToken,
		PlatformVersion:      PlatformVersion,
		Tags:                 tagsOf(c),
		Health:               healthOf(c),
		Cellplane:            extensionOf(c),
	}
}

// arn names a cluster as EKS does, with "cellplane" as the partition.
func (s *server) arn(account, name string) string {
	return fmt.Sprintf("arn:cellplane:eks:%s:%s:cluster/%s", s.region, account, name)
}

// wireStatus is the status a caller sees. A deletion the caller asked for shows
// as DELETING at once, before the cell has noticed; a failure the cell reports
// after that stays visible in health and the extension's reason.
func wireStatus(c *v1alpha1.Cluster) string {
	switch {
	case c.DeletionTimestamp != nil:
		return eks.StatusDeleting
	case c.Status.Status == "":
		return eks.StatusCreating
	}
	return c.Status.Status
}

// tagsOf returns the tags, never nil: EKS always sends a tags object.
func tagsOf(c *v1alpha1.Cluster) map[string]string {
	tags := maps.Clone(c.Spec.Tags)
	if tags == nil {
		tags = map[string]string{}
	}
	return tags
}

// healthOf turns a failure reported by the cell into an EKS health issue, where
// tools built for EKS look for the cause.
func healthOf(c *v1alpha1.Cluster) *eks.ClusterHealth {
	h := &eks.ClusterHealth{Issues: []eks.ClusterIssue{}}
	if c.Status.Status != v1alpha1.StatusFailed {
		return h
	}
	msg := c.Status.Reason
	if msg == "" {
		msg = "The control plane failed; its cell reported no reason."
	}
	h.Issues = append(h.Issues, eks.ClusterIssue{Code: eks.IssueInternalFailure, Message: msg})
	return h
}

// extensionOf copies the cell's observations into the "cellplane" object.
func extensionOf(c *v1alpha1.Cluster) *eks.Extension {
	ext := &eks.Extension{
		Cell:              c.Spec.Cell,
		Reason:            c.Status.Reason,
		KubernetesVersion: c.Status.KubernetesVersion,
	}
	for _, cs := range c.Status.Components {
		ext.Components = append(ext.Components, eks.Component{
			Name: cs.Name, Zone: cs.Zone, Address: cs.Address, PID: cs.PID,
			Ready: cs.Ready, Restarts: cs.Restarts, Message: cs.Message,
		})
	}
	for _, cond := range c.Status.Conditions {
		ext.Conditions = append(ext.Conditions, eks.Condition{
			Type: cond.Type, Status: string(cond.Status), Reason: cond.Reason, Message: cond.Message,
			LastTransitionTime: eks.NewTimestamp(cond.LastTransitionTime.Time),
		})
	}
	ext.Etcd = etcdOf(c.Status.Etcd)
	ext.Backup = backupOf(c.Status.Backup)
	ext.Restore = restoreOf(c.Status.Restore)
	ext.EtcdMembership = membershipOf(c.Status.EtcdMembership)
	return ext
}

func membershipOf(m *v1alpha1.EtcdMembership) *eks.EtcdMembership {
	if m == nil {
		return nil
	}
	out := &eks.EtcdMembership{BootstrappedAt: timestamp(m.BootstrappedAt)}
	for _, r := range m.Replacements {
		out.Replacements = append(out.Replacements, eks.MemberReplacement{Member: r.Member, LearnerID: r.LearnerID, Phase: r.Phase,
			StartedAt: timestamp(r.StartedAt), PromotedAt: timestamp(r.PromotedAt)})
	}
	return out
}

func etcdOf(e *v1alpha1.EtcdStatus) *eks.EtcdHealth {
	if e == nil {
		return nil
	}
	out := &eks.EtcdHealth{Leader: e.Leader, Quorum: e.Quorum, QuotaBytes: e.QuotaBytes, Alarms: e.Alarms, Message: e.Message,
		LastDefragmentation: timestamp(e.LastDefragmentation), LastCompaction: timestamp(e.LastCompaction), ObservedAt: timestamp(e.ObservedAt)}
	for _, m := range e.Members {
		out.Members = append(out.Members, eks.EtcdMember{Name: m.Name, ID: m.ID, Zone: m.Zone, Leader: m.Leader, Learner: m.Learner,
			Healthy: m.Healthy, DBSizeBytes: m.DBSizeBytes, DBSizeInUseBytes: m.DBSizeInUseBytes, Error: m.Error})
	}
	return out
}

func backupOf(b *v1alpha1.BackupStatus) *eks.Backup {
	if b == nil {
		return nil
	}
	return &eks.Backup{Location: b.Location, Set: b.Set, LastFullTime: timestamp(b.LastFullTime), LastFullRevision: b.LastFullRevision,
		LastFullBytes: b.LastFullBytes, LastSuccessTime: timestamp(b.LastSuccessTime), Revision: b.Revision,
		RecoveryPointTime: timestamp(b.RecoveryPointTime), Fulls: b.Fulls, LastError: b.LastError}
}

func restoreOf(r *v1alpha1.RestoreStatus) *eks.Restore {
	if r == nil {
		return nil
	}
	return &eks.Restore{RequestID: r.RequestID, Reason: r.Reason, Phase: r.Phase, Set: r.Set, FullRevision: r.FullRevision,
		Revision: r.Revision, StartedAt: timestamp(r.StartedAt), FinishedAt: timestamp(r.FinishedAt), Message: r.Message}
}

func timestamp(t *metav1.Time) *eks.Timestamp {
	if t == nil {
		return nil
	}
	return eks.NewTimestamp(t.Time)
}

// echoedOf reads the echoed request fields back. An annotation that no longer
// parses (edited by hand) is ignored: it only ever feeds the echo.
func echoedOf(c *v1alpha1.Cluster) echoed {
	var e echoed
	if raw := c.Annotations[annotationEKSRequest]; raw != "" {
		_ = json.Unmarshal([]byte(raw), &e)
	}
	return e
}
