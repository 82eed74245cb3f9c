package insights

import (
	"cmp"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/cellplane/cellplane/api/v1alpha1"
	"github.com/cellplane/cellplane/internal/eks"
)

// Window is how far back client statistics reach, as EKS counts them
// (numberOfRequestsLast30Days).
const Window = 30 * 24 * time.Hour

// Insight names.
const (
	NameKubeletSkew = "Kubelet version skew"
	NameAddons      = "Amazon EKS add-on version compatibility"
	NameRollback    = "Rollback readiness"
	NameSupport     = "Kubernetes version end of support"
)

// DeprecatedName names the insight about the APIs minor no longer serves.
func DeprecatedName(minor string) string { return "Deprecated APIs removed in Kubernetes v" + minor }

// Node is one node's kubelet.
type Node struct {
	Name           string
	KubeletVersion string // as the node reports it, e.g. v1.36.3
}

// Addon is one installed add-on.
type Addon struct {
	Name    string
	Version string // as the API names it, e.g. v1.36.3-eksbuild.1
}

// Verdict is a status and the reason for it.
type Verdict struct {
	Status string // eks.InsightStatus*
	Reason string
}

// Input is everything one refresh computes insights from.
type Input struct {
	// ClusterUID makes the insights' IDs, stable across refreshes.
	ClusterUID string
	// Version is the cluster's current minor, e.g. "1.36".
	Version string
	Now     time.Time
	// Usage is the deprecated API use the API servers reported (ParseMetrics,
	// Audit.Add), merged over every API server.
	Usage *Usage
	// Nodes are the cluster's nodes; NodesErr, when set, is why they could
	// not be listed.
	Nodes    []Node
	NodesErr error
	// Addons are the installed add-ons; CompatibleAddons lists the versions
	// of an add-on compatible with a minor, newest first (the catalogue).
	Addons           []Addon
	CompatibleAddons func(addon, minor string) []string
	// Rollback is the verdict of whoever judges whether the last upgrade can
	// be rolled back; nil when there is nothing to judge.
	Rollback *Verdict
	// SupportType is the cluster's upgradePolicy.supportType ("" means
	// EXTENDED): when its minor's support ends and it is upgraded.
	SupportType string
	// Previous are the insights of the last refresh, whose transition times
	// carry over while a status holds.
	Previous []v1alpha1.ClusterInsight
}

// Compute returns the insights, sorted by ID.
func Compute(in Input) ([]v1alpha1.ClusterInsight, error) {
	next, err := NextMinor(in.Version)
	if err != nil {
		return nil, err
	}
	after, _ := NextMinor(next)
	usage := in.Usage
	if usage == nil {
		usage = NewUsage()
	}
	out := []v1alpha1.ClusterInsight{
		usage.insight(next, eks.InsightStatusError),
		usage.insight(after, eks.InsightStatusWarning),
		kubeletSkew(in.Version, next, in.Nodes, in.NodesErr),
		addonCompatibility(next, in.Addons, in.CompatibleAddons),
		rollback(in.Version, in.Rollback),
		endOfSupport(in.Version, next, in.SupportType, in.Now),
	}
	for i := range out {
		finish(&out[i], in)
	}
	slices.SortFunc(out, func(a, b v1alpha1.ClusterInsight) int { return cmp.Compare(a.ID, b.ID) })
	return out, nil
}

// finish gives an insight its ID and times.
func finish(ins *v1alpha1.ClusterInsight, in Input) {
	ins.ID = insightID(in.ClusterUID, ins.Name)
	now := metav1.NewTime(in.Now)
	ins.LastRefreshTime = &now
	ins.LastTransitionTime = &now
	for _, p := range in.Previous {
		if p.ID == ins.ID && p.Status == ins.Status && p.LastTransitionTime != nil {
			t := *p.LastTransitionTime
			ins.LastTransitionTime = &t
		}
	}
}

// insightID is a UUID-shaped ID (as EKS's are) derived from the cluster and
// the check, so a refresh keeps it and DescribeInsight finds it again.
func insightID(clusterUID, name string) string {
	sum := sha256.Sum256([]byte(clusterUID + "\x00" + name))
	h := hex.EncodeToString(sum[:16])
	return h[:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:32]
}

// NextMinor returns the minor after "1.36": "1.37".
func NextMinor(minor string) (string, error) {
	major, m, ok := strings.Cut(minor, ".")
	n, err := strconv.Atoi(m)
	if !ok || err != nil || major == "" {
		return "", fmt.Errorf("%q is not a Kubernetes minor", minor)
	}
	return fmt.Sprintf("%s.%d", major, n+1), nil
}

// minorOf returns the minor number of "1.36" or "v1.36.3"; false for
// anything else.
func minorOf(version string) (int, bool) {
	v := strings.TrimPrefix(version, "v")
	parts := strings.SplitN(v, ".", 3)
	if len(parts) < 2 || parts[0] != "1" {
		return 0, false
	}
	n, err := strconv.Atoi(parts[1])
	return n, err == nil
}

// rollback is the rollback readiness insight about the current minor.
func rollback(version string, v *Verdict) v1alpha1.ClusterInsight {
	ins := v1alpha1.ClusterInsight{Name: NameRollback, Category: eks.InsightCategoryRollbackReadiness, KubernetesVersion: version,
		Description: "Checks whether the cluster can be rolled back to the Kubernetes minor it ran before its last upgrade.",
		Status:      eks.InsightStatusUnknown, Reason: "No upgrade to roll back: the cluster has not been upgraded to Kubernetes " + version + "."}
	if v != nil {
		ins.Status, ins.Reason = v.Status, v.Reason
	}
	return ins
}
