package insights

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/cellplane/cellplane/api/v1alpha1"
	"github.com/cellplane/cellplane/internal/eks"
)

// MaxKubeletSkew is how many minors a kubelet may be older than its API
// servers (Kubernetes' version skew policy since 1.28); it may never be newer.
const MaxKubeletSkew = 3

// kubeletSkew is the insight on whether every kubelet stays within the skew
// policy once the control plane runs next.
func kubeletSkew(version, next string, nodes []Node, listErr error) v1alpha1.ClusterInsight {
	ins := v1alpha1.ClusterInsight{Name: NameKubeletSkew, Category: eks.InsightCategoryUpgradeReadiness, KubernetesVersion: next,
		Description: fmt.Sprintf("Checks that every node's kubelet is at most %d minor versions older than Kubernetes v%s and not newer than v%s.",
			MaxKubeletSkew, next, version),
		Status: eks.InsightStatusPassing}
	if listErr != nil {
		// The error names host addresses, which tenants do not see; the
		// cell logs it.
		ins.Status, ins.Reason = eks.InsightStatusUnknown, "The nodes could not be listed from any API server; the next refresh tries again."
		return ins
	}
	cur, _ := minorOf(version)
	target, _ := minorOf(next)
	var bad []string
	for _, n := range nodes {
		reason := skewProblem(n.KubeletVersion, cur, target)
		if reason == "" {
			continue
		}
		bad = append(bad, n.Name)
		ins.Resources = append(ins.Resources, v1alpha1.InsightResource{KubernetesResourceURI: "/api/v1/nodes/" + n.Name,
			Status: eks.InsightStatusError, Reason: reason})
	}
	switch {
	case len(bad) > 0:
		ins.Status = eks.InsightStatusError
		ins.Reason = fmt.Sprintf("%d of %d nodes would be outside the version skew policy after the upgrade: %s.", len(bad), len(nodes), strings.Join(bad, ", "))
		ins.Recommendation = "Upgrade (or replace) these nodes to a kubelet within " + strconv.Itoa(MaxKubeletSkew) + " minor versions of v" + next + " before upgrading the control plane."
	case len(nodes) == 0:
		ins.Reason = "The cluster has no nodes."
	default:
		ins.Reason = fmt.Sprintf("All %d nodes' kubelets are within the version skew policy of Kubernetes v%s.", len(nodes), next)
	}
	return ins
}

// skewProblem says why a kubelet would break the skew policy against
// target, "" when it would not.
func skewProblem(kubelet string, cur, target int) string {
	m, ok := minorOf(kubelet)
	switch {
	case !ok:
		return fmt.Sprintf("kubelet version %q is not a Kubernetes 1.x release", kubelet)
	case m > cur:
		return fmt.Sprintf("kubelet %s is newer than the control plane (1.%d)", kubelet, cur)
	case target-m > MaxKubeletSkew:
		return fmt.Sprintf("kubelet %s would be %d minor versions older than 1.%d; at most %d are supported", kubelet, target-m, target, MaxKubeletSkew)
	}
	return ""
}
