package api

import (
	"encoding/json"
	"fmt"
	"maps"

	"github.com/cellplane/cellplane/api/v1alpha1"
	"github.com/cellplane/cellplane/internal/clusterversions"
	"github.com/cellplane/cellplane/internal/eks"
	"github.com/cellplane/cellplane/internal/eksinput"
	"github.com/cellplane/cellplane/internal/platform"
	"github.com/cellplane/cellplane/internal/redact"
	"github.com/cellplane/cellplane/internal/region/accessentries"
	"github.com/cellplane/cellplane/internal/region/certauthorities"
	"github.com/cellplane/cellplane/internal/region/upgrades"
)

// toWire renders a stored cluster as EKS's Cluster plus cellplane's extension.
func (s *server) toWire(account string, c *v1alpha1.Cluster) *eks.Cluster {
	echo := echoedOf(c)
	return &eks.Cluster{
		Name:                 c.Spec.Name,
		Arn:                  s.arn(account, c.Spec.Name),
		CreatedAt:            eks.NewTimestamp(c.CreationTimestamp.Time),
		Version:              clusterversions.RunningMinor(c),
		Endpoint:             c.Status.Endpoint,
		RoleArn:              echo.RoleArn,
		ResourcesVpcConfig:   echo.ResourcesVpcConfig,
		Status:               wireStatus(c),
		CertificateAuthority: certauthorities.Certificate(c),
		ClientRequestToken:   c.Spec.ClientRequestToken,
		PlatformVersion:      platform.Running(c),
		Tags:                 tagsOf(c),
		Health:               healthOf(c),
		DeletionProtection:   ptr(c.Spec.DeletionProtection),
		UpgradePolicy:        &eks.UpgradePolicy{SupportType: upgrades.PolicyOf(c)},
		EncryptionConfig:     encryptionOf(c),
		AccessConfig:         accessentries.Config(c),
		Cellplane:            eks.ExtensionOf(c).ForTenant(),
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
	case c.Status.Status == v1alpha1.StatusActive && c.Status.Rollout != nil && !c.Status.Rollout.Finished():
		return eks.StatusUpdating
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
	if issue := keyIssue(c); issue != nil {
		h.Issues = append(h.Issues, *issue)
	}
	if c.Status.Status != v1alpha1.StatusFailed {
		return h
	}
	msg := redact.Text(c.Status.Reason)
	if msg == "" {
		msg = "The control plane failed; its cell reported no reason."
	}
	h.Issues = append(h.Issues, eks.ClusterIssue{Code: eks.IssueInternalFailure, Message: msg})
	return h
}

func ptr[T any](v T) *T { return &v }

// echoedOf reads the echoed request fields back. An annotation that no longer
// parses (edited by hand) is ignored: it only ever feeds the echo.
func echoedOf(c *v1alpha1.Cluster) eksinput.Echoed {
	var e eksinput.Echoed
	if raw := c.Annotations[annotationEKSRequest]; raw != "" {
		_ = json.Unmarshal([]byte(raw), &e)
	}
	return e
}
