package controlplane

import (
	"cmp"
	"net"
	"path/filepath"
	"slices"

	"github.com/cellplane/cellplane/api/v1alpha1"
	"github.com/cellplane/cellplane/internal/components"
	"github.com/cellplane/cellplane/internal/ipam"
	"github.com/cellplane/cellplane/internal/pki"
	"github.com/cellplane/cellplane/internal/platform"
)

// ServiceCIDR is the tenant clusters' service network (EKS's default); ServiceIP is
// the kubernetes Service's address in it.
const ServiceCIDR = "10.100.0.0/16"

var serviceIP = net.IPv4(10, 100, 0, 1).To4()

// Member is one instance of a component kind in one zone.
type Member struct {
	Kind string
	Zone string
	IP   net.IP
	Port int
	// Component is the member's kind: what runs it, checks it and orders it.
	Component Component
}

// Name is the member's instance name, e.g. "etcd-a" or "kube-apiserver-b".
func (m Member) Name() string { return m.Kind + "-" + m.Zone }

// Input is what a plan is derived from.
type Input struct {
	Namespace, Name string // the cell store object
	UID             string // the object's UID: a recreated cluster is a new etcd cluster
	ClusterName     string // the tenant's spelling
	Dir             string // the cluster's directory
	Cell            ipam.Cell
	Slot            int
	Kubernetes      components.KubernetesBinaries
	Etcd            components.EtcdBinaries
	EtcdQuotaBytes  int64 // --quota-backend-bytes; etcd's default when zero
	// EtcdJoined names the etcd members that were added back to a running
	// cluster after losing their data: they start with
	// --initial-cluster-state=existing. etcd ignores the flag once a member has
	// data, so it stays set for good and the member's spec never changes again.
	EtcdJoined []string
	// GoawayChance is kube-apiserver's --goaway-chance: the share of HTTP/2
	// requests after which a server asks its client to reconnect, so long-lived
	// connections spread again over the API servers after one restarts. Zero
	// leaves the flag off.
	GoawayChance float64
	// RuntimeConfig is kube-apiserver's --runtime-config ("group/version=true,...");
	// empty leaves the flag off. The operator sets it per minor (cell tuning),
	// for example to serve a beta API that a later minor drops.
	RuntimeConfig string
	// ZoneNetNS maps a zone to the network namespace its members run in; a
	// zone missing from it runs in cellplane's own.
	ZoneNetNS map[string]string
	// Components are the kinds the control plane runs; nil means Default().
	Components []Component
	// Cellplane is the cellplane executable, which members such as the KMS
	// plugin run.
	Cellplane string
	// SecretsKeys is the cluster's keyset for Secrets in the clear, as its KMS
	// plugins take it in their environment (plugin.EncodeKeyset); empty
	// until the cell has made one.
	SecretsKeys string
	// SecretsKeyDisabled, when set, is why the KMS plugins start without
	// the keys: the cluster's customer key is disabled. SecretsKeys is then
	// not handed to them.
	SecretsKeyDisabled string
	// SignIn, when set, has the API servers authenticate tokens and
	// authorize with the cell's sign-in webhooks.
	SignIn *SignIn
	// Isolation, when set, runs every member as the cluster's own user, in
	// its own cgroup and with a host name of its own.
	Isolation *Isolation
	// IdentityProviders are the cluster's OIDC identity providers, which
	// the API servers' authentication configuration names.
	IdentityProviders []v1alpha1.OIDCIdentityProvider
	// Platform is the platform version the members run: its overlay
	// changes their flags and the audit policy. The zero value is the
	// baseline.
	Platform platform.Version
}

// Plan is the full description of one control plane.
type Plan struct {
	in  Input
	pki *pki.ClusterFiles
}

// New derives the plan. It touches no files.
func New(in Input) *Plan {
	if in.Components == nil {
		in.Components = Default()
	} else {
		// Start order is by tier whatever order the kinds were given in.
		in.Components = slices.Clone(in.Components)
		slices.SortStableFunc(in.Components, func(a, b Component) int { return cmp.Compare(a.Tier(), b.Tier()) })
	}
	p := &Plan{in: in}
	p.pki = pki.ClusterPaths(p.PKIDir(), p.PKISpec())
	return p
}

// UID is the cluster's UID: a recreated cluster is a new control plane.
func (p *Plan) UID() string { return p.in.UID }

// ID identifies the cluster in process IDs and logs.
func (p *Plan) ID() string { return p.in.Namespace + "/" + p.in.Name }

// PKIDir, ConfigDir and LogDir are the cluster's subdirectories.
func (p *Plan) PKIDir() string    { return filepath.Join(p.in.Dir, "pki") }
func (p *Plan) ConfigDir() string { return filepath.Join(p.in.Dir, "config") }
func (p *Plan) LogDir() string    { return filepath.Join(p.in.Dir, "logs") }

// PlatformVersion names the platform version the plan runs.
func (p *Plan) PlatformVersion() string { return p.in.Platform.Name }

// Dir is the cluster's directory; deleting the cluster removes it.
func (p *Plan) Dir() string { return p.in.Dir }

// Files returns the certificate and key paths.
func (p *Plan) Files() *pki.ClusterFiles { return p.pki }

// Components lists the plan's component kinds in start order.
func (p *Plan) Components() []Component { return p.in.Components }

// Members lists every member of kind, in zone order; none for a kind the
// plan does not run.
func (p *Plan) Members(kind string) []Member {
	for _, c := range p.in.Components {
		if c.Kind() == kind {
			return membersOf(p.in.Cell, p.in.Slot, c)
		}
	}
	return nil
}

func (p *Plan) member(kind, zone string) Member {
	for _, m := range p.Members(kind) {
		if m.Zone == zone {
			return m
		}
	}
	return Member{}
}

func membersOf(cell ipam.Cell, slot int, c Component) []Member {
	index, port := c.Address()
	var out []Member
	for _, z := range c.Zones() {
		out = append(out, Member{Kind: c.Kind(), Zone: z, IP: cell.MemberIP(ipam.ZoneIndex(z), slot, index), Port: port, Component: c})
	}
	return out
}

// AllMembers lists every member in start order: by tier (etcd, API servers,
// controllers), each kind's in zone order.
func (p *Plan) AllMembers() []Member {
	var out []Member
	for _, c := range p.in.Components {
		out = append(out, membersOf(p.in.Cell, p.in.Slot, c)...)
	}
	return out
}

// Tiers groups every member by tier, the last tier first: the order they
// stop in. The members of one tier do not depend on each other.
func (p *Plan) Tiers() [][]Member {
	byTier := map[Tier][]Member{}
	var tiers []Tier
	for _, m := range p.AllMembers() {
		t := m.Component.Tier()
		if _, ok := byTier[t]; !ok {
			tiers = append(tiers, t)
		}
		byTier[t] = append(byTier[t], m)
	}
	slices.Sort(tiers)
	slices.Reverse(tiers)
	out := make([][]Member, len(tiers))
	for i, t := range tiers {
		out[i] = byTier[t]
	}
	return out
}

// EndpointIP is the cluster's stable load-balancer address.
func (p *Plan) EndpointIP() net.IP { return p.in.Cell.EndpointIP(p.in.Slot) }

// EndpointAddress is host:port of the endpoint.
func (p *Plan) EndpointAddress() string { return ipam.HostPort(p.EndpointIP(), ipam.EndpointPort) }

// Endpoint is the https URL tenants use.
func (p *Plan) Endpoint() string { return "https://" + p.EndpointAddress() }

// Address is the host:port a member serves on.
func (m Member) Address() string { return ipam.HostPort(m.IP, m.Port) }

// PKISpec lists the names and addresses the cluster's certificates must carry.
func (p *Plan) PKISpec() pki.ClusterSpec {
	s := pki.ClusterSpec{
		ClusterName: p.in.ClusterName,
		EndpointIPs: []net.IP{p.EndpointIP()},
		ServiceIP:   serviceIP,
	}
	for _, m := range p.Members(KindEtcd) {
		pm := pki.Member{Name: m.Name(), IP: m.IP}
		if p.in.ZoneNetNS[m.Zone] != "" {
			pm.SourceIP = p.in.Cell.ZoneSourceIP(ipam.ZoneIndex(m.Zone))
		}
		s.EtcdMembers = append(s.EtcdMembers, pm)
	}
	for _, m := range p.Members(KindAPIServer) {
		s.APIServers = append(s.APIServers, pki.Member{Name: m.Name(), IP: m.IP})
	}
	return s
}

// ServingMembers lists the members of the default components that serve
// clients (the store and API tiers: etcd members and API servers) of the
// cluster in slot of cell, with the address each serves on: what the cell's
// zone health probes, without building a whole plan per cluster.
func ServingMembers(cell ipam.Cell, slot int) []Member {
	var out []Member
	for _, c := range Default() {
		if c.Tier() <= TierAPI {
			out = append(out, membersOf(cell, slot, c)...)
		}
	}
	return out
}
