package components

import (
	"slices"
	"testing"
)

// The node build must stamp and pin exactly as the control plane's does (a
// kubelet that reports another version fails skew checks), but build only the
// node's commands.
func TestNodeBuild(t *testing.T) {
	r := Release{Minor: "1.35", Version: "v1.35.4"}
	node, cp := nodeBuild(r), kubernetesBuild(r, controlPlaneCommands)
	if node.ldflags != cp.ldflags || node.staging != cp.staging || node.stagingVersion != cp.stagingVersion || !slices.Equal(node.requires, cp.requires) {
		t.Errorf("node build %+v differs from the control plane's %+v in more than its packages", node, cp)
	}
	if got, want := node.binaries(), []string{"kube-proxy", "kubelet"}; !slices.Equal(got, want) {
		t.Errorf("node build installs %q, want %q", got, want)
	}
	if got := kubernetesBuild(r, controlPlaneCommands).binaries(); slices.Contains(got, "kubelet") {
		t.Errorf("the control plane's build %q includes the kubelet: everyone would pay for it", got)
	}
}
