package insights

import (
	"fmt"
	"time"

	"github.com/cellplane/cellplane/api/v1alpha1"
	"github.com/cellplane/cellplane/internal/clusterversions"
	"github.com/cellplane/cellplane/internal/eks"
)

// SupportNotice is how long before its automatic upgrade a cluster is told.
const SupportNotice = 60 * 24 * time.Hour

// endOfSupport is the notice of the automatic upgrade at the end of the
// support the cluster's policy keeps it on: PASSING until SupportNotice
// before it, then WARNING. Never ERROR: it must not block the upgrade it
// asks for.
func endOfSupport(version, next, supportType string, now time.Time) v1alpha1.ClusterInsight {
	ins := v1alpha1.ClusterInsight{Name: NameSupport, Category: eks.InsightCategoryUpgradeReadiness, KubernetesVersion: next,
		Description: "Checks when the cluster's Kubernetes minor leaves the support its upgrade policy keeps it on, when it is upgraded automatically.",
		Status:      eks.InsightStatusUnknown, Reason: "The support calendar of Kubernetes " + version + " is not known."}
	if supportType == "" {
		supportType = clusterversions.SupportExtended
	}
	at, ok := clusterversions.UpgradeAt(version, supportType)
	if !ok {
		return ins
	}
	day := at.UTC().Format(time.DateOnly)
	switch {
	case !now.Before(at):
		ins.Status = eks.InsightStatusWarning
		ins.Reason = fmt.Sprintf("Kubernetes %s left %s support on %s: the cluster is being upgraded to %s automatically.", version, supportType, day, next)
	case now.After(at.Add(-SupportNotice)):
		ins.Status = eks.InsightStatusWarning
		ins.Reason = fmt.Sprintf("Kubernetes %s leaves %s support on %s: the cluster will then be upgraded to %s automatically. Upgrade before, or set upgradePolicy.supportType to EXTENDED to stay longer.", version, supportType, day, next)
		if supportType == clusterversions.SupportExtended {
			ins.Reason = fmt.Sprintf("Kubernetes %s leaves extended support on %s: the cluster will then be upgraded to %s automatically. Upgrade before.", version, day, next)
		}
	default:
		ins.Status = eks.InsightStatusPassing
		ins.Reason = fmt.Sprintf("Kubernetes %s is in %s support until %s.", version, supportType, day)
	}
	return ins
}
