package zonenet

import (
	"errors"
	"fmt"
	"log/slog"
	"os"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// degrade sends every packet the zone puts on its veth through a TUN device
// of this process, which delays or drops it and writes it back into the host
// stack (this kernel has no netem). A tc redirect on the host end's ingress
// moves the packets; the host end still handles ARP, which the filter leaves
// alone (it only matches IPv4).
func (z *zone) degrade(f Fault, log *slog.Logger) (*line, error) {
	tun, err := z.openTUN()
	if err != nil {
		return nil, err
	}
	if err := z.redirect(); err != nil {
		_ = tun.Close() // undoing a half-made fault: the redirect's error is the one to report
		return nil, err
	}
	return startLine(tun, f, log), nil
}

// openTUN creates the zone's TUN device in the host namespace. The device
// is not persistent: it disappears when this process closes it or dies.
func (z *zone) openTUN() (*os.File, error) {
	var tun *os.File
	// The device lands in the namespace of the thread opening
	// /dev/net/tun, and its sysctls are only visible from there.
	err := inNS(z.host, func() error {
		var err error
		if tun, err = createTUN(z.tun); err != nil {
			return err
		}
		// Packets written back carry 127/8 addresses (route_localnet),
		// are mostly routed on to another zone (forwarding), and arrive on
		// a link that is not their reverse path (rp_filter).
		return setSysctls(conf(z.tun, "route_localnet", "1"), conf(z.tun, "forwarding", "1"), conf(z.tun, "rp_filter", "0"))
	})
	if err == nil {
		err = z.upTUN()
	}
	if err != nil && tun != nil {
		_ = tun.Close() // as above: err is the one to report
	}
	if err != nil {
		return nil, fmt.Errorf("creating TUN %s for zone %s: %w", z.tun, z.name, err)
	}
	return tun, nil
}

func createTUN(name string) (*os.File, error) {
	fd, err := unix.Open("/dev/net/tun", unix.O_RDWR|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("opening /dev/net/tun: %w", err)
	}
	ifr, err := unix.NewIfreq(name)
	if err == nil {
		ifr.SetUint16(unix.IFF_TUN | unix.IFF_NO_PI)
		err = unix.IoctlIfreq(fd, unix.TUNSETIFF, ifr)
	}
	if err == nil {
		// Non-blocking before NewFile puts the fd in Go's poller, so
		// Close wakes a blocked Read.
		err = unix.SetNonblock(fd, true)
	}
	if err != nil {
		_ = unix.Close(fd) // as above: err is the one to report
		return nil, fmt.Errorf("attaching TUN %s: %w", name, err)
	}
	return os.NewFile(uintptr(fd), "tun:"+name), nil
}

func (z *zone) upTUN() error {
	link, err := z.hostNL.LinkByName(z.tun)
	if err == nil {
		err = z.hostNL.LinkSetUp(link)
	}
	return err
}

// redirect adds a clsact qdisc to the host end of the veth with a match-all
// IPv4 filter that hands every packet from the zone to the TUN.
func (z *zone) redirect() error {
	veth, err := z.hostNL.LinkByName(z.veth)
	if err != nil {
		return fmt.Errorf("finding veth %s: %w", z.veth, err)
	}
	tun, err := z.hostNL.LinkByName(z.tun)
	if err != nil {
		return fmt.Errorf("finding TUN %s: %w", z.tun, err)
	}
	if err := z.hostNL.QdiscAdd(clsact(veth)); err != nil {
		return fmt.Errorf("adding clsact to %s: %w", z.veth, err)
	}
	filter := &netlink.U32{
		FilterAttrs: netlink.FilterAttrs{
			LinkIndex: veth.Attrs().Index,
			Parent:    netlink.HANDLE_MIN_INGRESS,
			Priority:  1,
			Protocol:  unix.ETH_P_IP,
		},
		Actions: []netlink.Action{netlink.NewMirredAction(tun.Attrs().Index)},
	}
	if err := z.hostNL.FilterAdd(filter); err != nil {
		return fmt.Errorf("redirecting %s to %s: %w", z.veth, z.tun, err)
	}
	return nil
}

func clsact(link netlink.Link) *netlink.GenericQdisc {
	return &netlink.GenericQdisc{
		QdiscAttrs: netlink.QdiscAttrs{
			LinkIndex: link.Attrs().Index,
			Handle:    netlink.MakeHandle(0xffff, 0),
			Parent:    netlink.HANDLE_CLSACT,
		},
		QdiscType: "clsact",
	}
}

// undegrade removes the redirect and the TUN, whichever process made them.
// Without the redirect, a TUN left by a process that still runs would only
// idle, but it is deleted too so the name is free for the next degrade.
func (z *zone) undegrade() error {
	veth, err := findLink(z.hostNL, z.veth)
	if err != nil {
		err = fmt.Errorf("finding veth %s: %w", z.veth, err)
	} else if veth != nil {
		err = z.dropClsact(veth)
	}
	return errors.Join(err, z.deleteHostLink(z.tun))
}

func (z *zone) dropClsact(veth netlink.Link) error {
	qdiscs, err := z.hostNL.QdiscList(veth)
	if err != nil {
		return fmt.Errorf("listing qdiscs of %s: %w", z.veth, err)
	}
	for _, q := range qdiscs {
		if q.Type() != "clsact" {
			continue
		}
		// Deleting the qdisc deletes its filters with it.
		if err := z.hostNL.QdiscDel(clsact(veth)); err != nil {
			return fmt.Errorf("removing clsact from %s: %w", z.veth, err)
		}
	}
	return nil
}

// deleteHostLink deletes a link of the host namespace if it exists.
func (z *zone) deleteHostLink(name string) error {
	link, err := findLink(z.hostNL, name)
	if err == nil && link != nil {
		err = z.hostNL.LinkDel(link)
	}
	if err != nil {
		return fmt.Errorf("deleting %s: %w", name, err)
	}
	return nil
}
