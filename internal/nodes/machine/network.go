package machine

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"

	"github.com/cellplane/cellplane/internal/nodes/clusternet"
	"github.com/cellplane/cellplane/internal/runtime/nsthread"
)

// netnsDir is where named namespaces are mounted, as `ip netns` expects.
const netnsDir = "/run/netns"

// nodeLink is the machine's end of its veth pair.
const nodeLink = "eth0"

// setUpNetwork creates the machine's namespace and link: the node's address
// on eth0, the cell's loopback block routed to the host from the node's cell
// source (route_localnet on both ends lets 127/8 travel the wire, as between
// a cell's zones), and the host's routes to the node's address and cell
// source. There is no default
// route: neither the node nor its pods can send anything beyond the cell.
func setUpNetwork(c *Config, n names) (err error) {
	var ns netns.NsHandle
	err = nsthread.Isolated(func() error {
		var err error
		ns, err = netns.NewNamed(n.netns) // moves this thread; Isolated moves it back
		return err
	})
	if err != nil {
		return fmt.Errorf("creating network namespace %s: %w", n.netns, err)
	}
	defer func() { _ = ns.Close() }() // a namespace handle: closing only drops the reference
	veth := &netlink.Veth{
		LinkAttrs: netlink.LinkAttrs{Name: n.link}, PeerName: nodeLink, PeerNamespace: netlink.NsFd(ns),
	}
	if err := netlink.LinkAdd(veth); err != nil {
		return fmt.Errorf("creating veth %s: %w", n.link, err)
	}
	if err := plumbNode(c, ns); err != nil {
		return err
	}
	if err := plumbHost(c, n); err != nil {
		return err
	}
	if c.Network == nil {
		return nil
	}
	node := clusternet.Node{Name: c.Name, Address: c.Address, PodCIDR: c.PodCIDR}
	if err := clusternet.Attach(*c.Network, ns, node); err != nil {
		return fmt.Errorf("joining the cluster network: %w", err)
	}
	return nil
}

func plumbNode(c *Config, ns netns.NsHandle) error {
	nl, err := netlink.NewHandleAt(ns)
	if err != nil {
		return fmt.Errorf("opening netlink in the machine: %w", err)
	}
	defer nl.Close()
	err = nsthread.In(ns, func() error {
		if err := writeSysctls(map[string]string{"net/ipv4/conf/" + nodeLink + "/route_localnet": "1"}); err != nil {
			return err
		}
		// The pods' bridge hands what it bridges to iptables, so kube-proxy's
		// rules see a pod reach a Service backed by a pod of the same node
		// (per namespace on this kernel; absent without br_netfilter, where
		// kube-proxy says so itself).
		err := writeSysctls(map[string]string{"net/bridge/bridge-nf-call-iptables": "1"})
		if errors.Is(err, os.ErrNotExist) {
			return nil
		}
		return err
	})
	if err != nil {
		return err
	}
	for _, name := range []string{"lo", nodeLink} {
		link, err := nl.LinkByName(name)
		if err != nil {
			return fmt.Errorf("finding %s in the machine: %w", name, err)
		}
		if err := nl.LinkSetUp(link); err != nil {
			return fmt.Errorf("bringing up %s in the machine: %w", name, err)
		}
	}
	eth, err := nl.LinkByName(nodeLink)
	if err != nil {
		return fmt.Errorf("finding %s in the machine: %w", nodeLink, err)
	}
	addr := &netlink.Addr{IPNet: &net.IPNet{IP: c.Address.AsSlice(), Mask: net.CIDRMask(32, 32)}}
	if err := nl.AddrAdd(eth, addr); err != nil {
		return fmt.Errorf("adding %s to the machine: %w", c.Address, err)
	}
	// The cell source is local (a /32 beats the cell's /16 below), so it
	// can be the source of the route to the cell.
	lo, err := nl.LinkByName("lo")
	if err != nil {
		return fmt.Errorf("finding lo in the machine: %w", err)
	}
	local := &netlink.Route{
		Dst: prefixNet(netip.PrefixFrom(c.CellSource, 32)), LinkIndex: lo.Attrs().Index, Type: unix.RTN_LOCAL,
		Table: unix.RT_TABLE_LOCAL, Scope: netlink.SCOPE_HOST,
	}
	if err := nl.RouteReplace(local); err != nil {
		return fmt.Errorf("making %s local in the machine: %w", c.CellSource, err)
	}
	// In the local table, where only a more specific route can beat the
	// namespace's own `local 127.0.0.0/8`.
	route := &netlink.Route{
		Dst: prefixNet(c.CellPrefix), LinkIndex: eth.Attrs().Index, Src: c.CellSource.AsSlice(),
		Table: unix.RT_TABLE_LOCAL, Scope: netlink.SCOPE_LINK,
	}
	if err := nl.RouteReplace(route); err != nil {
		return fmt.Errorf("routing %s from the machine: %w", c.CellPrefix, err)
	}
	return nil
}

// plumbHost configures the host's end: it answers the machine's ARP for
// the cell's addresses (proxy_arp, at once: proxy_delay), accepts 127/8 on
// the wire, and routes the node's address to the machine. It changes no
// setting of any other interface.
func plumbHost(c *Config, n names) error {
	link, err := netlink.LinkByName(n.link)
	if err != nil {
		return fmt.Errorf("finding veth %s: %w", n.link, err)
	}
	err = writeSysctls(map[string]string{
		"net/ipv4/conf/" + n.link + "/route_localnet": "1",
		"net/ipv4/conf/" + n.link + "/proxy_arp":      "1",
		"net/ipv4/neigh/" + n.link + "/proxy_delay":   "0",
	})
	if err != nil {
		return err
	}
	if err := netlink.LinkSetUp(link); err != nil {
		return fmt.Errorf("bringing up veth %s: %w", n.link, err)
	}
	route := &netlink.Route{
		Dst: prefixNet(netip.PrefixFrom(c.Address, 32)), LinkIndex: link.Attrs().Index,
		Src: c.HostAddress.AsSlice(), Scope: netlink.SCOPE_LINK,
	}
	if err := netlink.RouteReplace(route); err != nil {
		return fmt.Errorf("routing %s to the machine: %w", c.Address, err)
	}
	// The pods' range goes into the machine too: without this route the
	// host would send anything addressed to a pod to its default gateway,
	// off the machine. (The pods themselves drop what arrives from the
	// host's loopback source; nothing on the host needs to reach them yet.)
	pods := &netlink.Route{
		Dst: prefixNet(c.PodCIDR), LinkIndex: link.Attrs().Index, Gw: c.Address.AsSlice(),
		Src: c.HostAddress.AsSlice(), Flags: int(netlink.FLAG_ONLINK),
	}
	if err := netlink.RouteReplace(pods); err != nil {
		return fmt.Errorf("routing the pods' %s to the machine: %w", c.PodCIDR, err)
	}
	// The replies to the node's connections to the cell; in the local
	// table, to beat the host's `local 127.0.0.0/8`.
	back := &netlink.Route{
		Dst: prefixNet(netip.PrefixFrom(c.CellSource, 32)), LinkIndex: link.Attrs().Index,
		Src: c.HostAddress.AsSlice(), Table: unix.RT_TABLE_LOCAL, Scope: netlink.SCOPE_LINK,
	}
	if err := netlink.RouteReplace(back); err != nil {
		return fmt.Errorf("routing %s to the machine: %w", c.CellSource, err)
	}
	return nil
}

func prefixNet(p netip.Prefix) *net.IPNet {
	return &net.IPNet{IP: p.Masked().Addr().AsSlice(), Mask: net.CIDRMask(p.Bits(), p.Addr().BitLen())}
}

// writeSysctls writes settings under /proc/sys; the net ones apply to the
// calling thread's namespace.
func writeSysctls(settings map[string]string) error {
	for k, v := range settings {
		p := filepath.Join("/proc/sys", k)
		if err := os.WriteFile(p, []byte(v), 0o644); err != nil { //nolint:gosec // G306: /proc/sys files exist; the mode is never applied
			return fmt.Errorf("setting %s: %w", p, err)
		}
	}
	return nil
}

// removeNetwork takes the machine off its cluster network, deletes the
// host's end of the link (the kernel deletes its peer and the routes
// through it) and the namespace's name. A namespace whose last process is
// gone is freed with it. Missing pieces are fine.
func removeNetwork(n names) error {
	p := filepath.Join(netnsDir, n.netns)
	// Explicitly, not with the namespace: the kernel frees that later, and
	// the cluster network would keep the node's link and routes until then.
	errs := []error{clusternet.Detach(p)}
	if link, err := netlink.LinkByName(n.link); err == nil {
		if err := netlink.LinkDel(link); err != nil {
			errs = append(errs, fmt.Errorf("deleting veth %s: %w", n.link, err))
		}
	} else if !errors.As(err, &netlink.LinkNotFoundError{}) {
		errs = append(errs, fmt.Errorf("finding veth %s: %w", n.link, err))
	}
	if err := unix.Unmount(p, unix.MNT_DETACH); err != nil && !errors.Is(err, unix.EINVAL) && !errors.Is(err, unix.ENOENT) {
		errs = append(errs, fmt.Errorf("unmounting network namespace %s: %w", n.netns, err))
	}
	if err := os.Remove(p); err != nil && !errors.Is(err, os.ErrNotExist) {
		errs = append(errs, fmt.Errorf("removing network namespace %s: %w", n.netns, err))
	}
	return errors.Join(errs...)
}
