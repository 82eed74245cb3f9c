// Package ipam is cellplane's address plan on the embedded process runtime: every
// control-plane member gets its own stable loopback IP, derived from its cell, its
// zone and its cluster's slot, so addresses survive restarts without being stored.
package ipam

import (
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
)

// Zones are the failure domains of a cell, in order.
var Zones = []string{"a", "b", "c"}

// MembersPerZone is how many addresses one cluster takes in each zone: one per
// component kind (etcd, API server, controller-manager, scheduler).
const MembersPerZone = 4

// MaxSlots is how many clusters one cell's plan can address: each zone owns 32 /24s.
const MaxSlots = 32 * 254 / MembersPerZone

// Well-known ports. Each member has its own IP, so every cluster uses the same ports.
const (
	EtcdClientPort         = 2379
	EtcdPeerPort           = 2380
	APIServerPort          = 6443
	ControllerManagerPort  = 10257
	SchedulerPort          = 10259
	EndpointPort           = 6443
	RegionAPIPort          = 8443
	LoadBalancerStatusPort = 9443
	SignInPort             = 9444 // the cell's sign-in webhooks, on its store address
)

// ClusterServiceIP is what the API server in zone (0-based) advertises,
// an endpoint of the cluster's `kubernetes` Service: EndpointSlices refuse
// loopback, so it is an address inside the cluster's own network namespace
// (package clusternet), the same for every cluster since each namespace is
// a network of its own. One per zone, not one for all: an API server that
// stops deletes the lease of the address it advertises, and a shared one
// would leave the Service without endpoints until the other renews.
// Nothing on the host routes these addresses.
func ClusterServiceIP(zone int) net.IP {
	return net.IPv4(10, 249, 0, byte(11+zone)).To4() //nolint:gosec // G115: zone is an index of Zones
}

// ErrInvalidBlock is returned for an address block that is not 127.N with room for its cells.
var ErrInvalidBlock = errors.New("invalid address block")

// Block is the set of 127.N.0.0/16 networks an instance of cellplane uses: the region
// takes 127.N and cell k takes 127.(N+k).
type Block struct{ octet int }

// ParseBlock parses "127.N", leaving room for cells more /16s after it.
func ParseBlock(s string, cells int) (Block, error) {
	rest, ok := strings.CutPrefix(s, "127.")
	n, err := strconv.Atoi(rest)
	if !ok || err != nil || n < 1 || n+cells > 254 {
		return Block{}, fmt.Errorf("%w %q: want 127.N with 1 <= N <= %d", ErrInvalidBlock, s, 254-cells)
	}
	return Block{octet: n}, nil
}

// RegionIP is where the region's store and API listen.
func (b Block) RegionIP() net.IP { return ip(b.octet, 0, 1) }

// Cell returns the plan of cell k (1-based).
func (b Block) Cell(k int) Cell { return Cell{octet: b.octet + k} }

// Cell is one cell's address plan.
type Cell struct{ octet int }

// StoreIP is where the cell's store and load-balancer status listen.
func (c Cell) StoreIP() net.IP { return ip(c.octet, 0, 1) }

// ZoneIndex returns the index of a zone name, or -1.
func ZoneIndex(zone string) int {
	for i, z := range Zones {
		if z == zone {
			return i
		}
	}
	return -1
}

// MemberIP is the address of slot's member of the given kind (0 to
// MembersPerZone-1) in zone (0-based). Zones own third octets 32-63, 64-95 and
// 96-127, so every member of every cluster has an address of its own.
func (c Cell) MemberIP(zone, slot, kind int) net.IP {
	i := slot*MembersPerZone + kind
	return ip(c.octet, 32*(zone+1)+i/254, i%254+1)
}

// ZonePrefix is the network every member address of zone (0-based) lies in:
// third octets 32-63, 64-95 or 96-127 of the cell's /16, a /19 each.
func (c Cell) ZonePrefix(zone int) *net.IPNet {
	return &net.IPNet{IP: ip(c.octet, 32*(zone+1), 0), Mask: net.CIDRMask(19, 32)}
}

// ZoneSourceIP is where the connections a zone's members open come from when
// the zone has a network namespace of its own: .255 of the zone's first /24,
// never a member's address. Certificates checked against a peer's source
// address (etcd's peer certificates) name it.
func (c Cell) ZoneSourceIP(zone int) net.IP { return ip(c.octet, 32*(zone+1), 255) }

// Prefix is the cell's whole /16.
func (c Cell) Prefix() *net.IPNet {
	return &net.IPNet{IP: ip(c.octet, 0, 0), Mask: net.CIDRMask(16, 32)}
}

// Octet is the cell's second octet: what names the cell's host-wide resources
// (network namespaces, links) uniquely among the instances on one machine.
func (c Cell) Octet() int { return c.octet }

// EndpointIP is the load-balancer address of slot's cluster (third octets 128-135).
func (c Cell) EndpointIP(slot int) net.IP { return ip(c.octet, 128+slot/254, slot%254+1) }

// HostPort joins an IP and port.
func HostPort(ip net.IP, port int) string { return net.JoinHostPort(ip.String(), strconv.Itoa(port)) }

// ip builds 127.b.c.d. Every octet is inside the plan: ParseBlock bounds the
// second by the cells it leaves room for, and zones (0-2) and slots (below
// MaxSlots) keep the third within 32-135 and the fourth within 0-255.
func ip(b, c, d int) net.IP {
	return net.IPv4(127, byte(b), byte(c), byte(d)).To4() //nolint:gosec // G115: octets bounded by the plan, above
}
