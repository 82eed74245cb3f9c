package clusternet

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

	"github.com/cellplane/cellplane/internal/runtime/nsthread"
)

// ErrInUse is returned by Remove while machines are still attached.
var ErrInUse = errors.New("cluster network still has machines attached")

// Ensure makes the cluster network l names, or adopts the one that exists,
// and sets it up: lo up with the gateway and the service addresses on it,
// and forwarding on (in this namespace only). It is safe to call again and
// from several processes.
func Ensure(l Link) error {
	if err := l.Validate(); err != nil {
		return err
	}
	var ns netns.NsHandle
	err := locked(func() error {
		var err error
		if ns, err = openOrCreate(l.Namespace); err != nil {
			return err
		}
		if err := guardHost(l); err != nil {
			_ = ns.Close() // a namespace handle: closing only drops the reference
			return err
		}
		return nil
	})
	if err != nil {
		return err
	}
	defer func() { _ = ns.Close() }() // a namespace handle: closing only drops the reference
	nl, err := netlink.NewHandleAt(ns)
	if err != nil {
		return fmt.Errorf("opening netlink in %s: %w", l.Namespace, err)
	}
	defer nl.Close()
	lo, err := nl.LinkByName("lo")
	if err != nil {
		return fmt.Errorf("finding lo in %s: %w", l.Namespace, err)
	}
	if err := nl.LinkSetUp(lo); err != nil {
		return fmt.Errorf("bringing up lo in %s: %w", l.Namespace, err)
	}
	for _, a := range append([]netip.Addr{l.Gateway}, ServiceAddresses()...) {
		if err := nl.AddrReplace(lo, &netlink.Addr{IPNet: prefixNet(netip.PrefixFrom(a, 32))}); err != nil {
			return fmt.Errorf("adding %s to %s: %w", a, l.Namespace, err)
		}
	}
	return nsthread.In(ns, func() error {
		return writeSysctls(map[string]string{"net/ipv4/ip_forward": "1"})
	})
}

// locked runs fn holding the lock on the namespaces' directory, which
// keeps makers and removers of cluster networks apart: between a
// namespace file's creation and its bind mount another would open a plain
// file, and the host's guard routes go with the last network.
func locked(fn func() error) error {
	if err := os.MkdirAll(netnsDir, 0o755); err != nil { //nolint:gosec // G301: as `ip netns` makes it
		return fmt.Errorf("creating %s: %w", netnsDir, err)
	}
	dir, err := os.Open(netnsDir)
	if err != nil {
		return fmt.Errorf("opening %s: %w", netnsDir, err)
	}
	defer func() { _ = dir.Close() }() // closing drops the lock too
	if err := unix.Flock(int(dir.Fd()), unix.LOCK_EX); err != nil {
		return fmt.Errorf("locking %s: %w", netnsDir, err)
	}
	return fn()
}

// openOrCreate opens the named namespace, making it first if need be; the
// caller holds the lock.
func openOrCreate(name string) (netns.NsHandle, error) {
	p := filepath.Join(netnsDir, name)
	if ns, err := netns.GetFromPath(p); err == nil {
		if isNetns(ns) {
			return ns, nil
		}
		// A file without its mount: what a crash between the two leaves.
		_ = ns.Close()
		if err := os.Remove(p); err != nil {
			return netns.None(), fmt.Errorf("removing stale %s: %w", p, err)
		}
	}
	var ns netns.NsHandle
	err := nsthread.Isolated(func() error {
		var err error
		ns, err = netns.NewNamed(name) // moves this thread; Isolated moves it back
		return err
	})
	if err != nil {
		return netns.None(), fmt.Errorf("creating network namespace %s: %w", name, err)
	}
	return ns, nil
}

// isNetns reports whether ns is a network namespace, not a plain file.
func isNetns(ns netns.NsHandle) bool {
	var st unix.Statfs_t
	return unix.Fstatfs(int(ns), &st) == nil && st.Type == unix.NSFS_MAGIC
}

// Attach joins the machine whose namespace is nodeNS to the cluster
// network: a veth pair, eth1 in the machine and its other end in the
// cluster network, and the routes of both ends. The machine forwards
// between its pods and eth1 (ip_forward in its namespace only). A link
// left by an earlier machine of the same name is replaced.
func Attach(l Link, nodeNS netns.NsHandle, n Node) error {
	if err := errors.Join(l.Validate(), validNode(l, n)); err != nil {
		return err
	}
	if err := Ensure(l); err != nil {
		return err
	}
	cns, err := netns.GetFromPath(filepath.Join(netnsDir, l.Namespace))
	if err != nil {
		return fmt.Errorf("opening cluster network %s: %w", l.Namespace, err)
	}
	defer func() { _ = cns.Close() }() // a namespace handle: closing only drops the reference
	cnl, err := netlink.NewHandleAt(cns)
	if err != nil {
		return fmt.Errorf("opening netlink in %s: %w", l.Namespace, err)
	}
	defer cnl.Close()
	nnl, err := netlink.NewHandleAt(nodeNS)
	if err != nil {
		return fmt.Errorf("opening netlink in the machine: %w", err)
	}
	defer nnl.Close()
	name := clusterLinkName(n.Name)
	if old, err := cnl.LinkByName(name); err == nil {
		if err := cnl.LinkDel(old); err != nil {
			return fmt.Errorf("deleting the stale link %s in %s: %w", name, l.Namespace, err)
		}
	}
	veth := &netlink.Veth{LinkAttrs: netlink.LinkAttrs{Name: name}, PeerName: NodeLink, PeerNamespace: netlink.NsFd(nodeNS)}
	if err := cnl.LinkAdd(veth); err != nil {
		return fmt.Errorf("creating the link %s in %s: %w", name, l.Namespace, err)
	}
	err = nsthread.In(nodeNS, func() error {
		return writeSysctls(map[string]string{"net/ipv4/ip_forward": "1"})
	})
	if err != nil {
		return err
	}
	if err := plumb(cnl, name, clusterRoutes(n)); err != nil {
		return fmt.Errorf("in %s: %w", l.Namespace, err)
	}
	if err := plumb(nnl, NodeLink, nodeRoutes(l, n)); err != nil {
		return fmt.Errorf("in the machine: %w", err)
	}
	return nil
}

// plumb brings the link up and adds the routes through it.
func plumb(nl *netlink.Handle, name string, routes []route) error {
	link, err := nl.LinkByName(name)
	if err != nil {
		return fmt.Errorf("finding %s: %w", name, err)
	}
	if err := nl.LinkSetUp(link); err != nil {
		return fmt.Errorf("bringing up %s: %w", name, err)
	}
	for _, r := range routes {
		nr := &netlink.Route{Dst: prefixNet(r.Dst), LinkIndex: link.Attrs().Index, Scope: netlink.SCOPE_LINK}
		if r.Via.IsValid() {
			nr.Gw, nr.Scope, nr.Flags = r.Via.AsSlice(), netlink.SCOPE_UNIVERSE, int(netlink.FLAG_ONLINK)
		}
		if r.Src.IsValid() {
			nr.Src = r.Src.AsSlice()
		}
		if err := nl.RouteReplace(nr); err != nil {
			return fmt.Errorf("routing %s through %s: %w", r.Dst, name, err)
		}
	}
	return nil
}

// Detach takes the machine mounted at nodeNSPath off its cluster network:
// deleting eth1 deletes its other end and every route through it. A
// machine without the namespace or the link is fine.
func Detach(nodeNSPath string) error {
	ns, err := netns.GetFromPath(nodeNSPath)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("opening %s: %w", nodeNSPath, err)
	}
	defer func() { _ = ns.Close() }() // a namespace handle: closing only drops the reference
	if !isNetns(ns) {
		return nil
	}
	nl, err := netlink.NewHandleAt(ns)
	if err != nil {
		return fmt.Errorf("opening netlink in %s: %w", nodeNSPath, err)
	}
	defer nl.Close()
	link, err := nl.LinkByName(NodeLink)
	if errors.As(err, &netlink.LinkNotFoundError{}) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("finding %s in %s: %w", NodeLink, nodeNSPath, err)
	}
	if err := nl.LinkDel(link); err != nil {
		return fmt.Errorf("deleting %s in %s: %w", NodeLink, nodeNSPath, err)
	}
	return nil
}

// Remove deletes the cluster network of name, refusing with ErrInUse while
// a machine is attached. A network that is gone is fine. Processes inside
// it (a Run) keep it alive until they end. With the host's last cluster
// network go the host's guard routes.
func Remove(name string) error {
	if err := validName(name); err != nil {
		return err
	}
	return locked(func() error {
		if err := removeLocked(name); err != nil {
			return err
		}
		entries, err := os.ReadDir(netnsDir)
		if err != nil {
			return fmt.Errorf("listing %s: %w", netnsDir, err)
		}
		for _, e := range entries {
			if _, ok := cutPrefix(e.Name()); ok {
				return nil // another cluster's network still needs the guard
			}
		}
		return unguardHost(LinkOf(name))
	})
}

func removeLocked(name string) error {
	p := filepath.Join(netnsDir, NamespaceOf(name))
	ns, err := netns.GetFromPath(p)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("opening %s: %w", p, err)
	}
	if isNetns(ns) {
		links, err := linksIn(ns)
		if err != nil {
			_ = ns.Close()
			return err
		}
		if len(links) > 0 {
			_ = ns.Close()
			return fmt.Errorf("removing %s: %w: %v", NamespaceOf(name), ErrInUse, links)
		}
	}
	_ = ns.Close() // a namespace handle: closing only drops the reference
	if err := unix.Unmount(p, unix.MNT_DETACH); err != nil && !errors.Is(err, unix.EINVAL) && !errors.Is(err, unix.ENOENT) {
		return fmt.Errorf("unmounting %s: %w", p, err)
	}
	if err := os.Remove(p); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("removing %s: %w", p, err)
	}
	return nil
}

// guardRoutes are the host's routes that answer "unreachable" for the
// cluster networks', pods' and nodes' ranges: the host has no link into a
// cluster network, and a process on it (an API server proxying to the
// `kubernetes` Service's endpoints, or to a pod of a machine that has
// gone) would otherwise send them to its default gateway, off the
// machine. A running machine's own, more specific routes still win.
func guardRoutes(l Link) []*netlink.Route {
	var out []*netlink.Route
	for _, p := range []netip.Prefix{l.Network, l.PodNetwork, l.NodeNetwork} {
		if p.IsValid() {
			out = append(out, &netlink.Route{Dst: prefixNet(p), Type: unix.RTN_UNREACHABLE, Table: unix.RT_TABLE_MAIN})
		}
	}
	return out
}

func guardHost(l Link) error {
	for _, r := range guardRoutes(l) {
		if err := netlink.RouteReplace(r); err != nil {
			return fmt.Errorf("guarding %s on the host: %w", r.Dst, err)
		}
	}
	return nil
}

func unguardHost(l Link) error {
	var errs []error
	for _, r := range guardRoutes(l) {
		if err := netlink.RouteDel(r); err != nil && !errors.Is(err, unix.ESRCH) {
			errs = append(errs, fmt.Errorf("removing the guard for %s on the host: %w", r.Dst, err))
		}
	}
	return errors.Join(errs...)
}

// linksIn lists the links of ns other than lo: the machines' ends.
func linksIn(ns netns.NsHandle) ([]string, error) {
	nl, err := netlink.NewHandleAt(ns)
	if err != nil {
		return nil, fmt.Errorf("opening netlink: %w", err)
	}
	defer nl.Close()
	links, err := nl.LinkList()
	if err != nil {
		return nil, fmt.Errorf("listing links: %w", err)
	}
	var out []string
	for _, l := range links {
		if l.Attrs().Name != "lo" {
			out = append(out, l.Attrs().Name)
		}
	}
	return out, nil
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
