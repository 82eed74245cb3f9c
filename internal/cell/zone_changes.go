package cell

import (
	"fmt"
	"strings"

	"k8s.io/apimachinery/pkg/api/meta"

	"github.com/cellplane/cellplane/api/v1alpha1"
	"github.com/cellplane/cellplane/internal/components"
)

// pauseUpgrade holds a version upgrade back while a zone of the cell is out
// of rotation, shifted or impaired: an upgrade restarts every component, and
// doing that with one zone gone leaves a single API server, and etcd one
// failure from losing quorum. The cluster keeps running the release it runs
// (status.kubernetesVersion) until the zone is back; the upgrade then resumes
// by itself.
func (r *ClusterReconciler) pauseUpgrade(c *v1alpha1.Cluster, want components.Release) components.Release {
	zones := r.Zones.Zones()
	running := c.Status.KubernetesVersion
	if len(zones) == 0 || running == "" || running == want.Version {
		meta.RemoveStatusCondition(&c.Status.Conditions, v1alpha1.ConditionChangesPaused)
		return want
	}
	cur, err := components.Lookup(running)
	if err != nil {
		return want // a release no longer offered: nothing to stay on
	}
	setCondition(c, v1alpha1.ConditionChangesPaused, true, "ZoneOutOfRotation",
		fmt.Sprintf("the upgrade to %s waits until zone %s is back in rotation", want.Version, strings.Join(zones, ", ")))
	return cur
}
