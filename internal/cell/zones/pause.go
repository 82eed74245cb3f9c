package zones

import (
	"fmt"
	"strings"

	"k8s.io/apimachinery/pkg/api/meta"

	"github.com/cellplane/cellplane/api/v1alpha1"
	"github.com/cellplane/cellplane/internal/cell/tenant"
)

// HoldRollout reports whether a rollout of c to the release to must wait,
// and says so in c's ChangesPaused condition: while a zone of the cell is
// out of rotation, shifted or impaired, moving a member would leave a single
// API server, or etcd one failure from losing quorum. The members keep the
// releases they run until the zone is back; the rollout then resumes by
// itself. With nothing to move (rolling false) the condition goes.
func (z *Shifts) HoldRollout(c *v1alpha1.Cluster, rolling bool, to string) bool {
	zones := z.Zones()
	if len(zones) == 0 || !rolling {
		meta.RemoveStatusCondition(&c.Status.Conditions, v1alpha1.ConditionChangesPaused)
		return false
	}
	tenant.SetCondition(c, v1alpha1.ConditionChangesPaused, true, "ZoneOutOfRotation",
		fmt.Sprintf("the move to %s waits until zone %s is back in rotation", to, strings.Join(zones, ", ")))
	return true
}

// ShowShift reports a zone shift of the cell in c's ZoneShifted condition: the
// cluster's API servers there are drained by the endpoint and its
// controllers there stopped; etcd care moves etcd's leader out.
func (z *Shifts) ShowShift(c *v1alpha1.Cluster) {
	zones := z.Zones()
	if len(zones) == 0 {
		meta.RemoveStatusCondition(&c.Status.Conditions, v1alpha1.ConditionZoneShifted)
		return
	}
	reason, why := "Evacuated", "is shifted out"
	if impaired := z.Impaired(); len(impaired) > 0 {
		reason, why = "ZoneImpaired", fmt.Sprintf("is out (zone %s impaired, evacuated automatically)", strings.Join(impaired, ", "))
	}
	tenant.SetCondition(c, v1alpha1.ConditionZoneShifted, true, reason,
		fmt.Sprintf("zone %s %s: its API servers are drained and its controllers stopped; changes are paused", strings.Join(zones, ", "), why))
}
