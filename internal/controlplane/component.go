package controlplane

import (
	"cmp"
	"context"
	"slices"
	"sync"
)

// Component is one kind of control-plane member: its command line, the files
// it reads, its health check, the zones it runs in, the order it starts and
// stops in and what it does while its zone is out of rotation. Everything
// cellplane knows about a kind lives in its implementation (one file each,
// as kamaji gives every tenant resource one small interface), so adding a
// kind (a KMS plugin, a webhook, an authenticator) is one new file that
// registers itself.
type Component interface {
	// Kind names the component; its members are named kind-zone.
	Kind() string
	// Zones lists the zones that run a member, in order.
	Zones() []string
	// Address says where each member serves: which of its slot's addresses in
	// its zone (0 to ipam.MembersPerZone-1; kinds may share one on different
	// ports) and the port its health check reaches.
	Address() (index, port int)
	// Tier orders members: they start by ascending tier and stop by
	// descending tier, the members of one tier together.
	Tier() Tier
	// Condition is the Cluster condition that reports the kind's health.
	Condition() string
	// ZoneOut says what happens to a member while its zone is out of rotation.
	ZoneOut() ZoneOut
	// Command is the binary and arguments that run member m. The arguments'
	// order is part of the process's identity: changing it restarts every
	// running member.
	Command(p *Plan, m Member) (path string, args []string)
	// WriteFiles writes what the kind's members read besides certificates. It
	// runs on every pass, so it must be idempotent.
	WriteFiles(p *Plan) error
	// Check probes member m's health with pr's clients.
	Check(ctx context.Context, pr *Prober, m Member) error
}

// Tier is a start and teardown rank: a member depends only on lower tiers.
type Tier int

// The tiers of the components cellplane runs today.
const (
	TierStore       Tier = iota // etcd: everything else reads and writes it
	TierAPI                     // API servers: in front of the store
	TierControllers             // clients of the API: controllers, schedulers
)

// ZoneOut is what a member does while its zone is shifted out of the cell or
// found impaired.
type ZoneOut int

const (
	// ZoneOutKeep keeps the member running: the endpoint drains it.
	ZoneOutKeep ZoneOut = iota
	// ZoneOutStop stops it whenever its zone is out, so that its leadership
	// moves to another zone.
	ZoneOutStop
	// ZoneOutStopWhenImpaired stops it only in an impaired zone: a shifted but
	// healthy zone's member keeps serving (etcd keeps quorum that way).
	ZoneOutStopWhenImpaired
)

var (
	registryMu sync.Mutex
	registry   []Component
)

// register adds a kind to the components every plan runs by default; each
// component's file calls it from init.
func register(c Component) {
	registryMu.Lock()
	defer registryMu.Unlock()
	registry = append(registry, c)
}

// Default lists the registered components in start order: by tier, then by
// kind, so the order does not depend on which file registered first.
func Default() []Component {
	registryMu.Lock()
	out := slices.Clone(registry)
	registryMu.Unlock()
	slices.SortFunc(out, func(a, b Component) int {
		return cmp.Or(cmp.Compare(a.Tier(), b.Tier()), cmp.Compare(a.Kind(), b.Kind()))
	})
	return out
}
