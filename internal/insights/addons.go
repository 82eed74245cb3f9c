package insights

import (
	"fmt"
	"slices"
	"strings"

	"github.com/cellplane/cellplane/api/v1alpha1"
	"github.com/cellplane/cellplane/internal/eks"
)

// addonCompatibility is the insight on whether the installed add-ons'
// versions are offered for next. An add-on that is not is a WARNING, not an
// ERROR: the add-ons cellplane offers (CoreDNS, kube-proxy) keep working
// against a newer API server within the skew policy, and are updated after
// the control plane, as EKS recommends.
func addonCompatibility(next string, addons []Addon, compatible func(addon, minor string) []string) v1alpha1.ClusterInsight {
	ins := v1alpha1.ClusterInsight{Name: NameAddons, Category: eks.InsightCategoryUpgradeReadiness, KubernetesVersion: next,
		Description: "Checks that the installed Amazon EKS add-ons' versions are compatible with Kubernetes v" + next + ".",
		Status:      eks.InsightStatusPassing, Reason: "The cluster has no add-ons."}
	if len(addons) == 0 {
		return ins
	}
	if compatible == nil {
		ins.Status, ins.Reason = eks.InsightStatusUnknown, "No add-on catalogue to compare with."
		return ins
	}
	var stale []string
	for _, a := range addons {
		versions := compatible(a.Name, next)
		ins.Addons = append(ins.Addons, v1alpha1.InsightAddon{Name: a.Name, Version: a.Version, CompatibleVersions: versions})
		if !slices.Contains(versions, a.Version) {
			stale = append(stale, a.Name+" "+a.Version)
		}
	}
	if len(stale) == 0 {
		ins.Reason = fmt.Sprintf("Every add-on's version is compatible with Kubernetes v%s.", next)
		return ins
	}
	ins.Status = eks.InsightStatusWarning
	ins.Reason = fmt.Sprintf("Not compatible with Kubernetes v%s: %s.", next, strings.Join(stale, ", "))
	ins.Recommendation = "After upgrading the control plane to v" + next + ", update these add-ons to a version compatible with it."
	return ins
}
