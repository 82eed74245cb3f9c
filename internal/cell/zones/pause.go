package zones

import (
	"fmt"
	"strings"

	"k8s.io/apimachinery/pkg/api/meta"

	"github.com/cellplane/cellplane/api/v1alpha1"
	"github.com/cellplane/cellplane/internal/cell/tenant"
	"github.com/cellplane/cellplane/internal/components"
)

// PauseUpgrade holds a version upgrade back while a zone of the cell is out
// of rotation, shifted or impaired: an upgrade restarts every component, and
// doing that with one zone gone leaves a single API server, and etcd one
// failure from losing quorum. The cluster keeps running the release it runs
// (status.kubernetesVersion) until the zone is back; the upgrade then resumes
// by itself.
func (z *Shifts) PauseUpgrade(c *v1alpha1.Cluster, want components.Release) components.Release {
	zones := z.Zones()
	running := c.Status.KubernetesVersion
	if len(zones) == 0 || running == "" || running == want.Version {
		meta.RemoveStatusCondition(&c.Status.Conditions, v1alpha1.ConditionChangesPaused)
		return want
	}
	cur, err := components.Lookup(running)
	if err != nil {
		return want // a release no longer offered: nothing to stay on
	}
	tenant.SetCondition(c, v1alpha1.ConditionChangesPaused, true, "ZoneOutOfRotation",
		fmt.Sprintf("the upgrade to %s waits until zone %s is back in rotation", want.Version, strings.Join(zones, ", ")))
	return cur
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
