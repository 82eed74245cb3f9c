package zonenet

import (
	"errors"
	"fmt"
	"net"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"

	"github.com/cellplane/cellplane/internal/ipam"
)

// tcpListen is the kernel's TCP_LISTEN state in socket diagnostics.
const tcpListen = 10

// ResetConnectionsTo destroys every TCP connection whose peer is in zone,
// in the host namespace and the other zones' (SOCK_DESTROY, what `ss -K`
// does): both ends' owners get ECONNABORTED at once. An evacuated zone that
// went silent would otherwise hold them for as long as TCP retransmits, up
// to 15 minutes, and clients that spread requests over connections (an API
// server's etcd client) keep sending some into the silence. A reconnect
// into a silent zone never completes, so the clients' balancers pass it by.
// It returns how many connections it reset.
func (n *Net) ResetConnectionsTo(zone string) (int, error) {
	zi := ipam.ZoneIndex(zone)
	if zi < 0 {
		return 0, fmt.Errorf("%w %q", ErrUnknownZone, zone)
	}
	prefix := n.cell.ZonePrefix(zi)
	paths := []string{n.hostNS}
	for _, other := range ipam.Zones {
		if other != zone {
			paths = append(paths, n.Path(other))
		}
	}
	total := 0
	var errs []error
	for _, path := range paths {
		ns, err := openNS(path)
		if err != nil {
			errs = append(errs, fmt.Errorf("opening network namespace %q: %w", path, err))
			continue
		}
		err = inNS(ns, func() error {
			k, err := resetTo(prefix)
			total += k
			return err
		})
		_ = ns.Close() // a namespace handle: closing only drops the reference
		errs = append(errs, err)
	}
	return total, errors.Join(errs...)
}

// resetTo destroys the calling thread's namespace's TCP connections to
// prefix. Netlink sockets belong to the namespace of the thread that opens
// them, which is why the package functions are used here.
func resetTo(prefix *net.IPNet) (int, error) {
	socks, err := netlink.SocketDiagTCP(unix.AF_INET)
	if err != nil && !errors.Is(err, netlink.ErrDumpInterrupted) {
		return 0, fmt.Errorf("listing TCP connections: %w", err)
	}
	n := 0
	var errs []error
	for _, s := range socks {
		if s.State == tcpListen || !prefix.Contains(s.ID.Destination) {
			continue
		}
		local := &net.TCPAddr{IP: s.ID.Source, Port: int(s.ID.SourcePort)}
		remote := &net.TCPAddr{IP: s.ID.Destination, Port: int(s.ID.DestinationPort)}
		if err := netlink.SocketDestroy(local, remote); err != nil && !errors.Is(err, unix.ENOENT) {
			errs = append(errs, fmt.Errorf("resetting %s→%s: %w", local, remote, err))
			continue
		}
		n++
	}
	return n, errors.Join(errs...)
}
