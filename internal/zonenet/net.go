package zonenet

import (
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"path/filepath"
	"sync"

	"github.com/vishvananda/netlink"

	"github.com/cellplane/cellplane/internal/ipam"
)

// ErrUnknownZone is wrapped when a zone is not one of ipam.Zones.
var ErrUnknownZone = errors.New("unknown zone")

// Options configure a Net.
type Options struct {
	Cell ipam.Cell
	// HostNS is the path of the namespace the cell's host side lives in;
	// "" is the calling process's namespace.
	HostNS string
	Log    *slog.Logger
}

// Net manages the zone namespaces of one cell. It is safe for concurrent use.
type Net struct {
	cell   ipam.Cell
	hostNS string
	log    *slog.Logger

	mu     sync.Mutex
	faults map[string]Fault // what this process last applied
	lines  map[string]*line // degraded zones' packet pumps
}

// New returns a Net for o. It touches nothing until called.
func New(o Options) *Net {
	log := o.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Net{
		cell:   o.Cell,
		hostNS: o.HostNS,
		log:    log.With("cell", o.Cell.Octet()),
		faults: map[string]Fault{},
		lines:  map[string]*line{},
	}
}

// NamespaceName is the name of a zone's namespace, e.g. "cellplane-141-a".
func NamespaceName(cell ipam.Cell, zone string) string {
	return fmt.Sprintf("cellplane-%d-%s", cell.Octet(), zone)
}

// Path is where a zone's namespace is mounted, for starting processes in it.
func (n *Net) Path(zone string) string {
	return filepath.Join(netnsDir, NamespaceName(n.cell, zone))
}

// Ensure creates whatever is missing of every zone's namespace, veth pair,
// sysctls and routes. It never recreates an existing namespace (processes
// may live in it) and keeps the faults it finds in the kernel.
func (n *Net) Ensure() error {
	n.mu.Lock()
	defer n.mu.Unlock()
	for i, name := range ipam.Zones {
		if err := n.ensureZone(i, name); err != nil {
			return err
		}
	}
	return nil
}

func (n *Net) ensureZone(i int, name string) error {
	z, err := n.openZone(i, name)
	if err != nil {
		return err
	}
	defer z.close()
	st, err := z.observe()
	if err != nil {
		return err
	}
	return z.plumb(st)
}

// SetFault replaces the zone's fault with f. It rebuilds the zone's state in
// the kernel from scratch, so it also clears what an earlier process left,
// and creates the zone's plumbing if it is missing.
func (n *Net) SetFault(zone string, f Fault) error {
	if err := f.Validate(); err != nil {
		return err
	}
	i := ipam.ZoneIndex(zone)
	if i < 0 {
		return fmt.Errorf("%w %q (want one of %v)", ErrUnknownZone, zone, ipam.Zones)
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	// Until this call succeeds, the zone's fault is whatever the kernel
	// was left with, not what we applied before.
	delete(n.faults, zone)
	n.stopLine(zone)
	if err := n.applyFault(i, zone, f); err != nil {
		return fmt.Errorf("setting fault %q on zone %s: %w", f, zone, err)
	}
	if f.Kind != KindNone {
		n.faults[zone] = f
	}
	n.log.Info("zone fault set", "zone", zone, "fault", f.String())
	return nil
}

func (n *Net) applyFault(i int, name string, f Fault) error {
	z, err := n.openZone(i, name)
	if err != nil {
		return err
	}
	defer z.close()
	if err := z.undegrade(); err != nil {
		return err
	}
	if err := z.plumb(f.Kind); err != nil {
		return err
	}
	if f.Kind != KindDegrade {
		return nil
	}
	l, err := z.degrade(f, n.log.With("zone", name))
	if err != nil {
		return errors.Join(err, z.undegrade())
	}
	n.lines[name] = l
	return nil
}

// Faults returns the faults this process last applied, by zone. Zones
// without a fault are absent.
func (n *Net) Faults() map[string]Fault {
	n.mu.Lock()
	defer n.mu.Unlock()
	return maps.Clone(n.faults)
}

// Close stops degrading: the TUN devices close and vanish, and a degraded
// zone drops what it sends until its fault is set again. Namespaces, cuts
// and blackholes stay as they are.
func (n *Net) Close() error {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.stopLines()
	return nil
}

func (n *Net) stopLines() {
	for zone := range n.lines {
		n.stopLine(zone)
	}
}

func (n *Net) stopLine(zone string) {
	if l, ok := n.lines[zone]; ok {
		l.close()
		delete(n.lines, zone)
	}
}

// Remove closes n and deletes every zone's host veth (with its routes and
// redirect), TUN and namespace. Processes still in a namespace keep it
// alive, unnamed and unreachable. Remove is idempotent.
func (n *Net) Remove() error {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.stopLines()
	clear(n.faults)
	host, err := openNS(n.hostNS)
	if err != nil {
		return fmt.Errorf("opening host network namespace %q: %w", n.hostNS, err)
	}
	defer func() { _ = host.Close() }() // a namespace handle: closing only drops the reference
	nl, err := netlink.NewHandleAt(host)
	if err != nil {
		return fmt.Errorf("opening netlink in host network namespace %q: %w", n.hostNS, err)
	}
	defer nl.Close()
	var errs []error
	for _, zone := range ipam.Zones {
		z := n.names(ipam.ZoneIndex(zone), zone)
		z.hostNL = nl
		// Deleting one end of a veth pair deletes both, and the kernel
		// drops the routes and qdiscs of a deleted link.
		errs = append(errs, z.deleteHostLink(z.veth), z.deleteHostLink(z.tun), deleteNamed(NamespaceName(n.cell, zone)))
	}
	return errors.Join(errs...)
}
