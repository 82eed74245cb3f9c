package machine

import (
	"errors"
	"fmt"
	"hash/fnv"
	"log/slog"
	"net/netip"
	"path/filepath"
	"regexp"

	"github.com/cellplane/cellplane/internal/nodes/clusternet"
)

// ErrInvalidConfig is wrapped for a Config that cannot make a machine.
var ErrInvalidConfig = errors.New("invalid machine configuration")

// Config describes one machine.
type Config struct {
	// Name is the node's name, a DNS label: the kubelet registers under it
	// and it names the machine's namespace, link and cgroups.
	Name string
	// Dir is the machine's disk: its /var/lib and /var/log live here. Stop
	// removes it.
	Dir string
	// Address is the node's IP, inside its namespace. It must not be a
	// loopback address: the kubelet refuses one as its node IP.
	Address netip.Addr
	// PodCIDR is the range the machine's pods get their addresses from.
	PodCIDR netip.Prefix
	// CellPrefix is the cell's loopback block, where the cluster's endpoint
	// and API servers listen; the machine routes it to the host.
	CellPrefix netip.Prefix
	// CellSource is the node's own address in CellPrefix, which its
	// connections to the cell come from. Not the node's address: the
	// kubelet (and kube-proxy) drop new connections from a non-loopback
	// source to 127/8 in the node's namespace (the "block incoming localnet
	// connections" rule against CVE-2020-8558). Every node of a cell needs
	// one of its own.
	CellSource netip.Addr
	// HostAddress is the host-side address, inside CellPrefix, the API
	// servers' connections to the kubelet come from (the cell's store
	// address, which the host owns).
	HostAddress netip.Addr
	// BootstrapKubeconfig is the kubelet's bootstrap kubeconfig (package
	// bootstrap): the endpoint, the cluster CA and a bootstrap token.
	BootstrapKubeconfig []byte
	// ClientCA verifies the client certificates of those who call the
	// kubelet: the API servers' (the cluster CA bundle).
	ClientCA []byte
	// Kubelet is the kubelet binary (components.NodeBinaries).
	Kubelet string
	// Images are OCI archives imported into containerd before the kubelet
	// starts (package images); SandboxImage, one of their references, is the
	// pods' sandbox (pause) image.
	Images       []string
	SandboxImage string
	// Network, if set, joins the machine to its cluster's network (package
	// clusternet): pods reach the other nodes' pods, and the node reaches
	// the address of the cluster's `kubernetes` Service. Without it the
	// machine's pods reach only the pods of its own node.
	Network *clusternet.Link `json:",omitempty"`
	// Labels are the node's labels, set at registration.
	Labels map[string]string
	// Taints are the node's taints at registration, <key>=<value>:<Effect>
	// as the kubelet's --register-with-taints spells them.
	Taints []string `json:",omitempty"`
	// Log receives what the machine does; nil discards it.
	Log *slog.Logger `json:"-"`
}

var labelRE = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$`)

// taintRE is one taint as the kubelet's flag takes it: no commas, a known
// effect. The API validated keys and values; this keeps a flag whole.
var taintRE = regexp.MustCompile(`^[^,=:\s]+=[^,=:\s]*:(NoSchedule|PreferNoSchedule|NoExecute)$`)

// Validate checks c without touching anything.
func (c *Config) Validate() error {
	var errs []error
	if !labelRE.MatchString(c.Name) {
		errs = append(errs, fmt.Errorf("name %q is not a DNS label", c.Name))
	}
	if !filepath.IsAbs(c.Dir) {
		errs = append(errs, fmt.Errorf("directory %q is not absolute", c.Dir))
	}
	if !c.Address.Is4() || c.Address.IsLoopback() || c.Address.IsUnspecified() {
		errs = append(errs, fmt.Errorf("address %s: want an IPv4 address that is not loopback", c.Address))
	}
	if !c.PodCIDR.IsValid() || !c.PodCIDR.Addr().Is4() || c.PodCIDR.Bits() > 28 || c.PodCIDR.Contains(c.Address) {
		errs = append(errs, fmt.Errorf("pod CIDR %s: want an IPv4 /28 or larger apart from the node address", c.PodCIDR))
	}
	if !c.CellPrefix.IsValid() || !c.CellPrefix.Addr().IsLoopback() || !c.CellPrefix.Contains(c.HostAddress) {
		errs = append(errs, fmt.Errorf("cell prefix %s with host address %s: want a loopback prefix that holds the host address", c.CellPrefix, c.HostAddress))
	}
	if !c.CellPrefix.Contains(c.CellSource) || c.CellSource == c.HostAddress {
		errs = append(errs, fmt.Errorf("cell source %s: want an address of its own in the cell prefix %s", c.CellSource, c.CellPrefix))
	}
	if len(c.BootstrapKubeconfig) == 0 || len(c.ClientCA) == 0 {
		errs = append(errs, errors.New("a bootstrap kubeconfig and a client CA are required"))
	}
	if c.Kubelet == "" || c.SandboxImage == "" {
		errs = append(errs, errors.New("the kubelet binary and the sandbox image are required"))
	}
	if c.Network != nil {
		if err := c.Network.Validate(); err != nil {
			errs = append(errs, err)
		} else if !c.Network.PodNetwork.Contains(c.PodCIDR.Addr()) || c.PodCIDR.Bits() < c.Network.PodNetwork.Bits() || c.Network.PodNetwork.Contains(c.Address) {
			errs = append(errs, fmt.Errorf("pod CIDR %s and address %s: want the pods' range inside the cluster's pod network %s, the address outside it", c.PodCIDR, c.Address, c.Network.PodNetwork))
		}
	}
	for _, t := range c.Taints {
		if !taintRE.MatchString(t) {
			errs = append(errs, fmt.Errorf("taint %q: want <key>=<value>:<NoSchedule|PreferNoSchedule|NoExecute>", t))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("%w: %w", ErrInvalidConfig, err)
	}
	return nil
}

// names are what a machine's name becomes in the kernel.
type names struct {
	netns  string // the network namespace, under /run/netns
	link   string // the host's end of the veth pair (15 characters at most)
	cgroup string // the machine's cgroup, under each hierarchy's root
}

// cgroupParent holds every machine's cgroup tree.
const cgroupParent = "/cellplane-nodes"

func namesOf(name string) names {
	h := fnv.New32a()
	_, _ = h.Write([]byte(name)) // a hash never fails to write
	return names{
		netns:  "cellplane-node-" + name,
		link:   fmt.Sprintf("cpn%08x", h.Sum32()),
		cgroup: cgroupParent + "/" + name,
	}
}
