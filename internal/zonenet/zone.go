package zonenet

import (
	"fmt"
	"net"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
)

// zone is one zone's kernel objects for the duration of a call: both
// namespaces and a netlink handle in each.
type zone struct {
	name       string
	host, ns   netns.NsHandle
	hostNL, nl *netlink.Handle
	fresh      bool // the veth pair was just made: eth0 is down without being cut
	veth, tun  string
	hostIP     net.IP     // the cell's host-side address
	prefix     *net.IPNet // the zone's /19
	cellPrefix *net.IPNet // the cell's /16
	sourceIP   net.IP     // the zone's address towards the rest of the cell
}

// names fills in a zone's addresses and link names, opening nothing. Link
// names carry the cell's octet so cells on one host never collide, and stay
// within the kernel's 15 characters ("cpz254a").
func (n *Net) names(i int, name string) *zone {
	prefix := n.cell.ZonePrefix(i)
	return &zone{
		name:       name,
		host:       netns.None(),
		ns:         netns.None(),
		veth:       fmt.Sprintf("cpz%d%s", n.cell.Octet(), name),
		tun:        fmt.Sprintf("cpd%d%s", n.cell.Octet(), name),
		hostIP:     n.cell.StoreIP(),
		prefix:     prefix,
		cellPrefix: n.cell.Prefix(),
		sourceIP:   n.cell.ZoneSourceIP(i),
	}
}

// openZone opens both namespaces of a zone, creating the zone's namespace and
// veth pair if missing. The caller must close it.
func (n *Net) openZone(i int, name string) (_ *zone, err error) {
	z := n.names(i, name)
	defer func() {
		if err != nil {
			z.close()
		}
	}()
	if z.host, err = openNS(n.hostNS); err != nil {
		return nil, fmt.Errorf("opening host network namespace %q: %w", n.hostNS, err)
	}
	if z.hostNL, err = netlink.NewHandleAt(z.host); err != nil {
		return nil, fmt.Errorf("opening netlink in host network namespace %q: %w", n.hostNS, err)
	}
	nsName := NamespaceName(n.cell, name)
	var created bool
	if z.ns, created, err = ensureNamed(nsName); err != nil {
		return nil, err
	}
	if created {
		n.log.Info("created zone network namespace", "zone", name, "netns", nsName)
	}
	if z.nl, err = netlink.NewHandleAt(z.ns); err != nil {
		return nil, fmt.Errorf("opening netlink in %s: %w", nsName, err)
	}
	if err = z.ensureVeth(); err != nil {
		return nil, err
	}
	return z, nil
}

func (z *zone) close() {
	for _, h := range []*netlink.Handle{z.hostNL, z.nl} {
		if h != nil {
			h.Close()
		}
	}
	for _, ns := range []netns.NsHandle{z.host, z.ns} {
		if ns.IsOpen() {
			_ = ns.Close() // a namespace handle: closing only drops the reference
		}
	}
}
