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
	var bad, odd []string
	for _, n := range nodes {
		status, reason := skewProblem(n.KubeletVersion, cur, target)
		switch status {
		case eks.InsightStatusError:
			bad = append(bad, n.Name)
		case eks.InsightStatusWarning:
			odd = append(odd, n.Name)
		default:
			continue
		}
		ins.Resources = append(ins.Resources, v1alpha1.InsightResource{KubernetesResourceURI: "/api/v1/nodes/" + n.Name,
			Status: status, Reason: reason})
	}
	switch {
	case len(bad) > 0:
		ins.Status = eks.InsightStatusError
		ins.Reason = fmt.Sprintf("%d of %d nodes would be outside the version skew policy after the upgrade: %s.", len(bad), len(nodes), strings.Join(bad, ", "))
		ins.Recommendation = "Upgrade (or replace) these nodes to a kubelet within " + strconv.Itoa(MaxKubeletSkew) + " minor versions of v" + next + ", and not newer, before upgrading the control plane."
	case len(odd) > 0:
		ins.Status = eks.InsightStatusWarning
		ins.Reason = fmt.Sprintf("%d of %d nodes run a kubelet outside the version skew policy of the current control plane, which the upgrade to v%s brings back within it: %s.",
			len(odd), len(nodes), next, strings.Join(odd, ", "))
	case len(nodes) == 0:
		ins.Reason = "The cluster has no nodes."
	default:
		ins.Reason = fmt.Sprintf("All %d nodes' kubelets are within the version skew policy of Kubernetes v%s.", len(nodes), next)
	}
	return ins
}

// skewProblem judges one kubelet against the control plane's minor now
// (cur) and after the upgrade (target): ERROR when the upgrade leaves it
// outside the policy, WARNING when it is outside now but the upgrade
// brings it within (a kubelet one minor ahead of the control plane), ""
// when it is within both.
func skewProblem(kubelet string, cur, target int) (status, reason string) {
	m, ok := minorOf(kubelet)
	switch {
	case !ok:
		return eks.InsightStatusWarning, fmt.Sprintf("kubelet version %q is not a Kubernetes 1.x release and cannot be judged", kubelet)
	case m > target:
		return eks.InsightStatusError, fmt.Sprintf("kubelet %s would still be newer than the control plane after the upgrade to 1.%d", kubelet, target)
	case target-m > MaxKubeletSkew:
		return eks.InsightStatusError, fmt.Sprintf("kubelet %s would be %d minor versions older than 1.%d; at most %d are supported", kubelet, target-m, target, MaxKubeletSkew)
	case m > cur:
		return eks.InsightStatusWarning, fmt.Sprintf("kubelet %s is newer than the control plane (1.%d) until the upgrade to 1.%d", kubelet, cur, target)
	}
	return "", ""
}
