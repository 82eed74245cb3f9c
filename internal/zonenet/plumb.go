package zonenet

import (
	"errors"
	"fmt"
	"net"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// zoneLink is the name of the zone's end of its veth pair, inside the zone.
const zoneLink = "eth0"

// The kernel's local routing table. Our routes go there, not to main: only
// there can a /19 beat the `local 127.0.0.0/8 dev lo` route, by longest
// prefix, before main is ever consulted.
const tableLocal = unix.RT_TABLE_LOCAL

// plumb makes the zone's sysctls, links and routes match the zone-side part
// of fault kind k, adding whatever is missing. Degrade lives on the host side
// only (see degrade), so its zone looks healthy. The veth pair must exist
// (see ensureVeth).
func (z *zone) plumb(k Kind) error {
	if err := z.plumbHost(); err != nil {
		return err
	}
	return z.plumbZone(k)
}

// ensureVeth creates the veth pair unless both ends exist. One end alone can
// only be left from a namespace that was replaced under a running process;
// it is deleted so the pair can be made again.
func (z *zone) ensureVeth() error {
	hostEnd, err := findLink(z.hostNL, z.veth)
	if err != nil {
		return fmt.Errorf("finding veth %s: %w", z.veth, err)
	}
	zoneEnd, err := findLink(z.nl, zoneLink)
	if err != nil {
		return fmt.Errorf("finding %s in zone %s: %w", zoneLink, z.name, err)
	}
	if hostEnd != nil && zoneEnd != nil {
		return nil
	}
	if hostEnd != nil {
		if err := z.hostNL.LinkDel(hostEnd); err != nil {
			return fmt.Errorf("deleting unpaired veth %s: %w", z.veth, err)
		}
	}
	if zoneEnd != nil {
		if err := z.nl.LinkDel(zoneEnd); err != nil {
			return fmt.Errorf("deleting unpaired %s in zone %s: %w", zoneLink, z.name, err)
		}
	}
	veth := &netlink.Veth{
		LinkAttrs:     netlink.LinkAttrs{Name: z.veth},
		PeerName:      zoneLink,
		PeerNamespace: netlink.NsFd(z.ns),
	}
	if err := z.hostNL.LinkAdd(veth); err != nil {
		return fmt.Errorf("creating veth %s: %w", z.veth, err)
	}
	// A new pair starts down. Remember that, because otherwise a down
	// zone side means the zone is cut.
	z.fresh = true
	return nil
}

// findLink returns the named link, or nil if there is none.
func findLink(h *netlink.Handle, name string) (netlink.Link, error) {
	link, err := h.LinkByName(name)
	if errors.As(err, &netlink.LinkNotFoundError{}) {
		return nil, nil
	}
	return link, err
}

// plumbHost configures the host end: it answers ARP for the host and the
// other zones (proxy_arp) at once (proxy_delay: by default the kernel holds
// proxied answers to broadcast requests back for up to 0.8s, which every
// first contact with a new address would pay), forwards between zones,
// accepts 127/8 on the wire (route_localnet), and is where the zone's /19 is
// routed.
func (z *zone) plumbHost() error {
	link, err := z.hostNL.LinkByName(z.veth)
	if err != nil {
		return fmt.Errorf("finding veth %s: %w", z.veth, err)
	}
	err = inNS(z.host, func() error {
		return setSysctls(
			conf(z.veth, "route_localnet", "1"), conf(z.veth, "proxy_arp", "1"),
			conf(z.veth, "forwarding", "1"), neigh(z.veth, "proxy_delay", "0"))
	})
	if err != nil {
		return err
	}
	if err := z.hostNL.LinkSetUp(link); err != nil {
		return fmt.Errorf("bringing up veth %s: %w", z.veth, err)
	}
	route := &netlink.Route{
		Dst: z.prefix, LinkIndex: link.Attrs().Index, Src: z.hostIP,
		Table: tableLocal, Scope: netlink.SCOPE_LINK,
	}
	if err := z.hostNL.RouteReplace(route); err != nil {
		return fmt.Errorf("routing %s to zone %s: %w", z.prefix, z.name, err)
	}
	return nil
}

// plumbZone configures the zone namespace: its whole /19 is local, so
// members bind their addresses without adding any, and the rest of the cell
// is reached through eth0, unless the zone is blackholed or cut.
func (z *zone) plumbZone(k Kind) error {
	if err := inNS(z.ns, func() error { return setSysctls(conf(zoneLink, "route_localnet", "1")) }); err != nil {
		return err
	}
	lo, err := z.upLink("lo")
	if err != nil {
		return err
	}
	local := &netlink.Route{
		Dst: z.prefix, LinkIndex: lo.Attrs().Index, Type: unix.RTN_LOCAL,
		Table: tableLocal, Scope: netlink.SCOPE_HOST,
	}
	if err := z.nl.RouteReplace(local); err != nil {
		return fmt.Errorf("making %s local in zone %s: %w", z.prefix, z.name, err)
	}
	if k == KindCut {
		return z.cut()
	}
	eth, err := z.upLink(zoneLink)
	if err != nil {
		return err
	}
	route := &netlink.Route{
		Dst: z.cellPrefix, LinkIndex: eth.Attrs().Index, Src: z.sourceIP,
		Table: tableLocal, Scope: netlink.SCOPE_LINK,
	}
	if k == KindBlackhole {
		route = z.routeNowhere(unix.RTN_BLACKHOLE)
	}
	return z.routeCell(route)
}

func (z *zone) upLink(name string) (netlink.Link, error) {
	link, err := z.nl.LinkByName(name)
	if err != nil {
		return nil, fmt.Errorf("finding %s in zone %s: %w", name, z.name, err)
	}
	if err := z.nl.LinkSetUp(link); err != nil {
		return nil, fmt.Errorf("bringing up %s in zone %s: %w", name, z.name, err)
	}
	return link, nil
}

// routeCell sets the zone's route to the rest of the cell. The source .255
// is never a member address, and replies to it come back through the host's
// route for the zone's /19. Replace swaps a route of another type in place,
// so there is never a moment without one, when the zone's own
// `local 127.0.0.0/8` would catch the cell's addresses.
func (z *zone) routeCell(r *netlink.Route) error {
	if err := z.nl.RouteReplace(r); err != nil {
		return fmt.Errorf("routing the cell from zone %s (route type %d): %w", z.name, r.Type, err)
	}
	return nil
}

// routeNowhere is a cell route of a type that goes nowhere: blackhole or
// unreachable.
func (z *zone) routeNowhere(typ int) *netlink.Route {
	return &netlink.Route{Dst: z.cellPrefix, Type: typ, Table: tableLocal}
}

// cut takes eth0 down. The kernel then drops every route through it, which
// would leave the cell's addresses to the zone's own `local 127.0.0.0/8`: a
// connection to another zone would reach the zone itself, refused or, worse,
// accepted by a wildcard listener. An unreachable route keeps them out, and
// fails the zone's own connections at once as a dead link would.
func (z *zone) cut() error {
	if err := z.routeCell(z.routeNowhere(unix.RTN_UNREACHABLE)); err != nil {
		return err
	}
	eth, err := z.nl.LinkByName(zoneLink)
	if err != nil {
		return fmt.Errorf("finding %s in zone %s: %w", zoneLink, z.name, err)
	}
	if err := z.nl.LinkSetDown(eth); err != nil {
		return fmt.Errorf("cutting zone %s: %w", z.name, err)
	}
	return nil
}

// observe reads the zone-side fault from the kernel, so Ensure can repair the
// plumbing without lifting a fault set by an earlier process. A cut that was
// half applied (route set, link still up) counts as a cut.
func (z *zone) observe() (Kind, error) {
	if z.fresh {
		return KindNone, nil
	}
	eth, err := z.nl.LinkByName(zoneLink)
	if err != nil {
		return "", fmt.Errorf("finding %s in zone %s: %w", zoneLink, z.name, err)
	}
	if eth.Attrs().Flags&net.FlagUp == 0 {
		return KindCut, nil
	}
	filter := &netlink.Route{Dst: z.cellPrefix, Table: tableLocal}
	routes, err := z.nl.RouteListFiltered(netlink.FAMILY_V4, filter, netlink.RT_FILTER_DST|netlink.RT_FILTER_TABLE)
	if err != nil {
		return "", fmt.Errorf("listing routes of zone %s: %w", z.name, err)
	}
	for _, r := range routes {
		switch r.Type {
		case unix.RTN_UNREACHABLE:
			return KindCut, nil
		case unix.RTN_BLACKHOLE:
			return KindBlackhole, nil
		}
	}
	return KindNone, nil
}
