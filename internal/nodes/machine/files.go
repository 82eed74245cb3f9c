package machine

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/cellplane/cellplane/internal/pki"
)

// Inside the machine, /var/lib and /var/log are the machine's own
// directories (bound from Dir) and /run a fresh tmpfs, so containerd, the
// kubelet and the CNI plugins keep their default paths and none of them
// writes to the host's.
const (
	containerdSocket = "/run/containerd/containerd.sock"
	kubeletDir       = "/var/lib/kubelet"
	cniConfDir       = "/var/lib/cni/net.d"
	cniBinDir        = "/usr/lib/cni" // Debian's containernetworking-plugins
	imagesDir        = "/var/lib/cellplane/images"
)

// hostPath is where a path inside the machine's /var lives on the host.
func (c *Config) hostPath(inMachine string) string {
	rel, ok := strings.CutPrefix(inMachine, "/var/")
	if !ok {
		panic("machine path outside /var: " + inMachine) // a constant of this package
	}
	return filepath.Join(c.Dir, "var", rel)
}

// kernelTunables are the settings the kubelet's container manager sets on
// start unless they already hold these values (setupKernelTunables). They
// are host-wide, so the machine shows them to the kubelet as files of its
// own instead.
var kernelTunables = map[string]string{
	"vm/overcommit_memory":      "1",
	"vm/panic_on_oom":           "0",
	"kernel/panic":              "10",
	"kernel/panic_on_oops":      "1",
	"kernel/keys/root_maxkeys":  "1000000",
	"kernel/keys/root_maxbytes": "25000000",
}

func (c *Config) writeFiles() error {
	for _, d := range []string{c.hostPath(kubeletDir) + "/pki", c.hostPath(cniConfDir), c.hostPath(imagesDir), c.hostPath("/var/log"), filepath.Join(c.Dir, "sysctl")} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			return fmt.Errorf("creating %s: %w", d, err)
		}
	}
	files := map[string][]byte{
		filepath.Join(c.Dir, "containerd.toml"):          []byte(c.containerdConfig()),
		c.hostPath(kubeletDir + "/config.yaml"):          []byte(c.kubeletConfig()),
		c.hostPath(kubeletDir + "/bootstrap-kubeconfig"): c.BootstrapKubeconfig,
		c.hostPath(kubeletDir + "/pki/client-ca.crt"):    c.ClientCA,
	}
	cni, err := c.cniConfig()
	if err != nil {
		return err
	}
	files[c.hostPath(cniConfDir+"/10-cellplane.conflist")] = cni
	for k, v := range kernelTunables {
		files[filepath.Join(c.Dir, "sysctl", strings.ReplaceAll(k, "/", "."))] = []byte(v + "\n")
	}
	for p, data := range files {
		if err := pki.WriteFileAtomic(p, data, 0o600); err != nil {
			return fmt.Errorf("writing %s: %w", p, err)
		}
	}
	return nil
}

// containerdConfig is containerd 1.6's (config version 2). The opt plugin
// is off: it would create /opt/containerd on the host. runc's state root is
// under /run, the machine's own tmpfs. restrict_oom_score_adj keeps pods'
// OOM scores at or above containerd's own: the kubelet asks -998 for every
// sandbox, and where cellplane runs without CAP_SYS_RESOURCE (a sandboxed
// host) runc fails to lower it and no pod starts.
func (c *Config) containerdConfig() string {
	return fmt.Sprintf(`version = 2
root = "/var/lib/containerd"
state = "/run/containerd"
disabled_plugins = ["io.containerd.internal.v1.opt", "io.containerd.snapshotter.v1.btrfs", "io.containerd.snapshotter.v1.zfs", "io.containerd.snapshotter.v1.devmapper", "io.containerd.snapshotter.v1.aufs"]

[grpc]
  address = %q

[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = %q
  restrict_oom_score_adj = true
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        SystemdCgroup = false
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = %q
    conf_dir = %q
`, containerdSocket, c.SandboxImage, cniBinDir, cniConfDir)
}

// clusterDNS is the CoreDNS add-on's Service address, which pods get as
// their name server: the tenth of the clusters' Service range
// (addons.DNSServiceIP; a test keeps them equal).
const clusterDNS = "10.100.0.10"

// kubeletConfig is the kubelet's configuration for a machine on cgroup v1:
// from 1.35 the kubelet refuses v1 unless failCgroupV1 is false, and
// containerd 1.6 cannot tell it the cgroup driver (no RuntimeConfig call),
// so it is set: cgroupfs, under the machine's own root. Serving
// certificates come from the cluster's signer (serverTLSBootstrap), so the
// API servers can verify them. clusterDNS is the kube-dns Service's address
// (addons.DNSServiceIP, the tenth of controlplane.ServiceCIDR).
func (c *Config) kubeletConfig() string {
	return fmt.Sprintf(`apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
failCgroupV1: false
cgroupDriver: cgroupfs
cgroupRoot: %s
cgroupsPerQOS: true
containerRuntimeEndpoint: unix://%s
address: %s
port: 10250
readOnlyPort: 0
healthzBindAddress: 127.0.0.1
healthzPort: 10248
authentication:
  anonymous:
    enabled: false
  webhook:
    enabled: true
  x509:
    clientCAFile: %s/pki/client-ca.crt
authorization:
  mode: Webhook
serverTLSBootstrap: true
rotateCertificates: true
clusterDomain: cluster.local
clusterDNS: [%q]
resolvConf: ""
failSwapOn: false
serializeImagePulls: false
imageGCHighThresholdPercent: 100
imageGCLowThresholdPercent: 99
evictionHard:
  memory.available: "100Mi"
  nodefs.available: "1%%"
  imagefs.available: "1%%"
`, namesOf(c.Name).cgroup, containerdSocket, c.Address, kubeletDir, clusterDNS)
}

// cniConfig is the pods' network: a bridge in the machine with host-local
// addresses from the pod CIDR, and the bridge the pods' default gateway, so
// the node's routes decide where pods' traffic goes: to other nodes' pods
// and the cluster's Services through the cluster network, nowhere else (the
// node has no default route). No masquerading (it needs iptables, and
// nothing beyond the cell is reachable anyway).
func (c *Config) cniConfig() ([]byte, error) {
	conf := map[string]any{
		"cniVersion": "0.4.0",
		"name":       "cellplane",
		"plugins": []any{map[string]any{
			"type": "bridge", "bridge": "cni0", "isGateway": true, "isDefaultGateway": true, "ipMasq": false, "hairpinMode": true,
			"ipam": map[string]any{
				"type":    "host-local",
				"ranges":  [][]map[string]string{{{"subnet": c.PodCIDR.Masked().String()}}},
				"dataDir": "/var/lib/cni/networks",
			},
		}},
	}
	out, err := json.MarshalIndent(conf, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("writing CNI configuration: %w", err)
	}
	return out, nil
}

// kubeletArgs are the kubelet's flags; everything else is in its config.
func (c *Config) kubeletArgs() []string {
	args := []string{
		"--config=" + kubeletDir + "/config.yaml",
		"--bootstrap-kubeconfig=" + kubeletDir + "/bootstrap-kubeconfig",
		"--kubeconfig=" + kubeletDir + "/kubeconfig",
		"--root-dir=" + kubeletDir,
		"--cert-dir=" + kubeletDir + "/pki",
		"--hostname-override=" + c.Name,
		"--node-ip=" + c.Address.String(),
		"--v=2",
	}
	if len(c.Labels) > 0 {
		var l []string
		for k, v := range c.Labels {
			l = append(l, k+"="+v)
		}
		sort.Strings(l)
		args = append(args, "--node-labels="+strings.Join(l, ","))
	}
	if len(c.Taints) > 0 {
		args = append(args, "--register-with-taints="+strings.Join(c.Taints, ","))
	}
	return args
}

// holderScript sets up the machine's mount namespace and then holds it
// (and the network namespace) open: /run a tmpfs of its own, /var/lib and
// /var/log the machine's directories, and the kernel tunables files. The
// namespace was made private (unshare --propagation private), so none of
// these, nor anything containerd and the kubelet mount later, reaches the
// host.
func (c *Config) holderScript() string {
	var b strings.Builder
	b.WriteString("set -e\n")
	b.WriteString("mount -t tmpfs -o mode=0755 machine-run /run\n")
	fmt.Fprintf(&b, "mount --bind %q /var/lib\n", filepath.Join(c.Dir, "var", "lib"))
	fmt.Fprintf(&b, "mount --bind %q /var/log\n", filepath.Join(c.Dir, "var", "log"))
	keys := make([]string, 0, len(kernelTunables))
	for k := range kernelTunables {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		fmt.Fprintf(&b, "mount --bind %q /proc/sys/%s\n", filepath.Join(c.Dir, "sysctl", strings.ReplaceAll(k, "/", ".")), k)
	}
	b.WriteString("echo ready\nexec sleep infinity\n")
	return b.String()
}
