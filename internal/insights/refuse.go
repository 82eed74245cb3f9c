package insights

import (
	"strings"

	"github.com/cellplane/cellplane/api/v1alpha1"
	"github.com/cellplane/cellplane/internal/eks"
	"github.com/cellplane/cellplane/internal/errdefs"
)

// RefuseUpgrade refuses an upgrade of c to target while an upgrade insight
// about target is in ERROR, as EKS does, unless force is set. A cluster
// whose insights were never computed is not refused: no insight means no
// known problem, not a failed check.
func RefuseUpgrade(c *v1alpha1.Cluster, target string, force bool) error {
	if force || c.Status.Insights == nil {
		return nil
	}
	var names []string
	for _, ins := range c.Status.Insights.Items {
		if ins.KubernetesVersion == target && ins.Status == eks.InsightStatusError && ins.Category == eks.InsightCategoryUpgradeReadiness {
			names = append(names, ins.Name+" ("+ins.ID+")")
		}
	}
	if len(names) == 0 {
		return nil
	}
	return errdefs.Publicf(errdefs.ErrInvalidRequest,
		"Upgrade of cluster %s to Kubernetes %s is blocked by insights in ERROR: %s. Resolve them (see ListInsights) or set force to upgrade anyway.",
		c.Spec.Name, target, strings.Join(names, "; "))
}
