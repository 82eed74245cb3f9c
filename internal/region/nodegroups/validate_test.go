package nodegroups

import (
	"strings"
	"testing"

	"github.com/cellplane/cellplane/api/v1alpha1"
)

// A node group runs its cluster's minor or one up to three older, never a
// newer one; the cluster's minor is what its control plane runs.
func TestVersionSkew(t *testing.T) {
	c := &v1alpha1.Cluster{Spec: v1alpha1.ClusterSpec{Name: "demo", Version: "1.37"}}
	c.Status.KubernetesVersion = "v1.37.2"
	for _, v := range []string{"", "1.37", "1.36", "1.34"} {
		if _, _, err := version(c, v, ""); err != nil {
			t.Errorf("version %q: %v", v, err)
		}
	}
	if minor, release, _ := version(c, "", ""); minor != "1.37" || release != "1.37.2" {
		t.Errorf("default: %s %s", minor, release)
	}
	for _, v := range []string{"1.33", "1.38", "x"} {
		if _, _, err := version(c, v, ""); err == nil || !strings.Contains(err.Error(), "not valid") {
			t.Errorf("version %q: %v", v, err)
		}
	}
	// During an upgrade the spec is ahead of what runs: a group may not
	// jump ahead of the control plane.
	c.Spec.Version, c.Status.KubernetesVersion = "1.37", "v1.36.3"
	if _, _, err := version(c, "1.37", ""); err == nil {
		t.Error("a node group newer than the running control plane was accepted")
	}
}
