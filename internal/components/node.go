package components

import (
	"context"
	"path/filepath"
	"strings"
)

// NodeBinaries are the paths of one Kubernetes release's node binaries.
type NodeBinaries struct {
	Release   Release
	Kubelet   string
	KubeProxy string
}

// Node returns the kubelet and kube-proxy of release r, building them if they
// are missing. They are a cache entry of their own ("kubernetes-node-<version>"),
// apart from the control plane's: only a machine that joins a cluster as a real
// node needs them, so `cellplane up` and the tests that run no nodes never pay
// for their build, and Cached does not count them.
func (c *Cache) Node(ctx context.Context, r Release) (NodeBinaries, error) {
	dir := filepath.Join(c.cfg.CacheDir, "kubernetes-node-"+r.Version)
	b := NodeBinaries{
		Release:   r,
		Kubelet:   filepath.Join(dir, "kubelet"),
		KubeProxy: filepath.Join(dir, "kube-proxy"),
	}
	return b, c.ensure(ctx, dir, nodeBuild(r))
}

// nodeBuild is the control plane's build of the same module with the node's
// commands: the same pins, staging replaces and version stamps, so a node
// reports exactly the release its control plane does. Upstream builds both
// without cgo too (KUBE_STATIC_LIBRARIES lists every server binary).
func nodeBuild(r Release) buildSpec {
	cmds := []string{"kubelet", "kube-proxy"}
	spec := kubernetesBuild(r, cmds)
	spec.title = "Kubernetes node " + r.Version + " (" + strings.Join(cmds, ", ") + ")"
	return spec
}
