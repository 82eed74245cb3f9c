package clusternet

import (
	"errors"
	"fmt"
	"hash/fnv"
	"net/netip"
	"regexp"

	"github.com/cellplane/cellplane/internal/addoncatalog"
	"github.com/cellplane/cellplane/internal/ipam"
)

// Gateway is the cluster network's own address, the same in every
// cluster's namespace (each is a network of its own): the nodes' gateway to
// the other nodes and their pods.
var Gateway = netip.MustParseAddr("10.249.0.1")

// Network holds the gateway and the service addresses; a node reaches it
// directly on its link. It is apart from the nodes' (10.250/16), pods'
// (10.244/16) and Services' (10.100/16) ranges.
var Network = netip.MustParsePrefix("10.249.0.0/24")

// ServiceAddresses are where the API servers of each zone say they are
// (ipam.ClusterServiceIP), the `kubernetes` Service's endpoints: Run
// listens on each and forwards to the cluster's endpoint.
func ServiceAddresses() []netip.Addr {
	out := make([]netip.Addr, len(ipam.Zones))
	for i := range ipam.Zones {
		out[i] = netip.AddrFrom4([4]byte(ipam.ClusterServiceIP(i)))
	}
	return out
}

// APIServerPort is where Run listens on the service addresses: the port
// the API servers advertise.
const APIServerPort = ipam.APIServerPort

// NodeLink is the machine's end of its link into the cluster network.
const NodeLink = "eth1"

// netnsDir is where named namespaces are mounted, as `ip netns` expects.
const netnsDir = "/run/netns"

// ErrInvalid is wrapped for a name or link that cannot make a network.
var ErrInvalid = errors.New("invalid cluster network")

// Link is what a machine needs to join its cluster's network. It is part
// of the machine's configuration, which is written to a file.
type Link struct {
	// Namespace is the cluster network's namespace, under /run/netns.
	Namespace string `json:"namespace"`
	// Gateway is the cluster network's address (Gateway).
	Gateway netip.Addr `json:"gateway"`
	// Network is what the node reaches directly on its link: the gateway
	// and the service addresses (Network).
	Network netip.Prefix `json:"network"`
	// PodNetwork is the cluster's pod network, which every node routes
	// into the cluster network (its own range more specifically to its
	// pods' bridge).
	PodNetwork netip.Prefix `json:"podNetwork"`
	// NodeNetwork, if set, is where the nodes' addresses are: a node
	// routes it into the cluster network too, so its own connections to
	// other nodes' pods, which come from its address, get their replies.
	// The cluster network routes only its own nodes' addresses.
	NodeNetwork netip.Prefix `json:"nodeNetwork,omitzero"`
}

// NodeNetwork is where the host's real nodes have their addresses
// (package nodeaddr).
var NodeNetwork = netip.MustParsePrefix("10.250.0.0/16")

// LinkOf is the link to the network Run makes for the cluster name.
func LinkOf(name string) Link {
	return Link{
		Namespace: NamespaceOf(name), Gateway: Gateway, Network: Network,
		PodNetwork: netip.MustParsePrefix(addoncatalog.PodCIDR), NodeNetwork: NodeNetwork,
	}
}

// NamespaceOf names a cluster's network namespace.
func NamespaceOf(name string) string { return "cellplane-net-" + name }

var nameRE = regexp.MustCompile(`^[a-z0-9]([-a-z0-9.]{0,200}[a-z0-9])?$`)

func validName(name string) error {
	if !nameRE.MatchString(name) {
		return fmt.Errorf("%w: name %q: want lower-case letters, digits, '-' and '.'", ErrInvalid, name)
	}
	return nil
}

// Validate checks l without touching anything.
func (l Link) Validate() error {
	var errs []error
	name, ok := cutPrefix(l.Namespace)
	if !ok || validName(name) != nil {
		errs = append(errs, fmt.Errorf("namespace %q: want %s", l.Namespace, NamespaceOf("<name>")))
	}
	if !l.Gateway.Is4() || l.Gateway.IsLoopback() || l.Gateway.IsLinkLocalUnicast() {
		errs = append(errs, fmt.Errorf("gateway %s: want an IPv4 address that is neither loopback nor link-local", l.Gateway))
	}
	if !l.Network.IsValid() || !l.Network.Contains(l.Gateway) {
		errs = append(errs, fmt.Errorf("network %s: want a prefix that holds the gateway %s", l.Network, l.Gateway))
	}
	if !l.PodNetwork.IsValid() || !l.PodNetwork.Addr().Is4() || l.PodNetwork.Overlaps(l.Network) {
		errs = append(errs, fmt.Errorf("pod network %s: want an IPv4 prefix apart from the network %s", l.PodNetwork, l.Network))
	}
	if l.NodeNetwork.IsValid() && (!l.NodeNetwork.Addr().Is4() || l.NodeNetwork.Overlaps(l.PodNetwork) || l.NodeNetwork.Overlaps(l.Network)) {
		errs = append(errs, fmt.Errorf("node network %s: want an IPv4 prefix apart from the pod network and the network", l.NodeNetwork))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	return nil
}

func cutPrefix(ns string) (string, bool) {
	const p = "cellplane-net-"
	if len(ns) <= len(p) || ns[:len(p)] != p {
		return "", false
	}
	return ns[len(p):], true
}

// Node is one machine as the cluster network sees it.
type Node struct {
	Name    string       // the node's name, which names its link in the cluster network
	Address netip.Addr   // the node's address
	PodCIDR netip.Prefix // its pods' range, inside the link's pod network
}

// route is one route of a plan: to Dst, through Via if valid (else on the
// link itself), from Src if valid.
type route struct {
	Dst      netip.Prefix
	Via, Src netip.Addr
}

// nodeRoutes are the routes in the node: the cluster network's own
// addresses on eth1, and the pod network (and the node network) through
// the gateway. The node's own pod range stays more specific, on its
// pods' bridge. Connections the node itself makes come from its address.
func nodeRoutes(l Link, n Node) []route {
	rs := []route{
		{Dst: l.Network.Masked(), Src: n.Address},
		{Dst: l.PodNetwork.Masked(), Via: l.Gateway, Src: n.Address},
	}
	if l.NodeNetwork.IsValid() {
		rs = append(rs, route{Dst: l.NodeNetwork.Masked(), Via: l.Gateway, Src: n.Address})
	}
	return rs
}

// clusterRoutes are the routes in the cluster network for one node: its
// address on its link, and its pods through it.
func clusterRoutes(n Node) []route {
	return []route{
		{Dst: netip.PrefixFrom(n.Address, 32)},
		{Dst: n.PodCIDR.Masked(), Via: n.Address},
	}
}

// validNode checks n against the link it joins.
func validNode(l Link, n Node) error {
	var errs []error
	if n.Name == "" {
		errs = append(errs, errors.New("a node name is required"))
	}
	if !n.Address.Is4() || l.Network.Contains(n.Address) || l.PodNetwork.Contains(n.Address) {
		errs = append(errs, fmt.Errorf("node address %s: want an IPv4 address outside the network and the pod network", n.Address))
	}
	if !n.PodCIDR.IsValid() || !l.PodNetwork.Contains(n.PodCIDR.Addr()) || n.PodCIDR.Bits() < l.PodNetwork.Bits() {
		errs = append(errs, fmt.Errorf("pod CIDR %s: want a range inside the pod network %s", n.PodCIDR, l.PodNetwork))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("%w: node %s: %w", ErrInvalid, n.Name, err)
	}
	return nil
}

// clusterLinkName is the name, inside the cluster network, of the end of a
// node's link (15 characters at most).
func clusterLinkName(node string) string {
	h := fnv.New32a()
	_, _ = h.Write([]byte(node)) // a hash never fails to write
	return fmt.Sprintf("cpc%08x", h.Sum32())
}
