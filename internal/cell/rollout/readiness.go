package rollout

import (
	"fmt"
	"time"

	"github.com/cellplane/cellplane/api/v1alpha1"
	"github.com/cellplane/cellplane/internal/clusterversions"
	"github.com/cellplane/cellplane/internal/eks"
	"github.com/cellplane/cellplane/internal/insights"
)

// RollbackReadiness judges, for the rollback readiness insight, whether c's
// last upgrade can be rolled back at now; nil when c was never upgraded
// (the insight then says so itself).
func RollbackReadiness(c *v1alpha1.Cluster, now time.Time) *insights.Verdict {
	ro := c.Status.Rollout
	if ro == nil || ro.Type != TypeUpgrade || ro.Phase != v1alpha1.RolloutSuccessful || ro.FinishedAt == nil {
		return nil
	}
	closes := ro.FinishedAt.Add(clusterversions.RollbackWindow)
	if now.After(closes) {
		return &insights.Verdict{Status: eks.InsightStatusWarning,
			Reason: fmt.Sprintf("The upgrade from %s finished more than 7 days ago: the rollback window closed at %s.", ro.From, closes.UTC().Format(time.RFC3339))}
	}
	check := "Before anything moves, the rollback checks that every stored object is of a version " + ro.From + " serves."
	if len(ro.FromServes) == 0 {
		check = "What " + ro.From + " served was not recorded, so the stored objects cannot be checked first."
	}
	return &insights.Verdict{Status: eks.InsightStatusPassing,
		Reason: fmt.Sprintf("The cluster can roll back to %s until %s. %s", ro.From, closes.UTC().Format(time.RFC3339), check)}
}
