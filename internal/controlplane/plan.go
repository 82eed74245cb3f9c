package controlplane

import (
	"net"
	"path/filepath"

	"github.com/cellplane/cellplane/internal/components"
	"github.com/cellplane/cellplane/internal/ipam"
	"github.com/cellplane/cellplane/internal/pki"
)

// Component kinds.
const (
	KindEtcd              = "etcd"
	KindAPIServer         = "kube-apiserver"
	KindControllerManager = "kube-controller-manager"
	KindScheduler         = "kube-scheduler"
)

// ServiceCIDR is the tenant clusters' service network (EKS's default); ServiceIP is
// the kubernetes Service's address in it.
const ServiceCIDR = "10.100.0.0/16"

var serviceIP = net.IPv4(10, 100, 0, 1).To4()

// zonesOf says which zones run each kind: etcd in all three, everything else in two.
var zonesOf = map[string][]string{
	KindEtcd:              {"a", "b", "c"},
	KindAPIServer:         {"a", "b"},
	KindControllerManager: {"a", "b"},
	KindScheduler:         {"a", "b"},
}

// Member is one instance of a component kind in one zone.
type Member struct {
	Kind string
	Zone string
	IP   net.IP
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
	// ZoneNetNS maps a zone to the network namespace its members run in; a
	// zone missing from it runs in cellplane's own.
	ZoneNetNS map[string]string
}

// Plan is the full description of one control plane.
type Plan struct {
	in  Input
	pki *pki.ClusterFiles
}

// New derives the plan. It touches no files.
func New(in Input) *Plan {
	p := &Plan{in: in}
	p.pki = pki.ClusterPaths(p.PKIDir(), p.PKISpec())
	return p
}

// ID identifies the cluster in process IDs and logs.
func (p *Plan) ID() string { return p.in.Namespace + "/" + p.in.Name }

// PKIDir, ConfigDir and LogDir are the cluster's subdirectories.
func (p *Plan) PKIDir() string    { return filepath.Join(p.in.Dir, "pki") }
func (p *Plan) ConfigDir() string { return filepath.Join(p.in.Dir, "config") }
func (p *Plan) LogDir() string    { return filepath.Join(p.in.Dir, "logs") }

// Dir is the cluster's directory; deleting the cluster removes it.
func (p *Plan) Dir() string { return p.in.Dir }

// Files returns the certificate and key paths.
func (p *Plan) Files() *pki.ClusterFiles { return p.pki }

// Members lists every member of kind, in zone order.
func (p *Plan) Members(kind string) []Member {
	var out []Member
	for _, z := range zonesOf[kind] {
		out = append(out, p.member(kind, z))
	}
	return out
}

func (p *Plan) member(kind, zone string) Member {
	return Member{Kind: kind, Zone: zone, IP: p.in.Cell.MemberIP(ipam.ZoneIndex(zone), p.in.Slot, kindIndex[kind])}
}

var kindIndex = map[string]int{KindEtcd: 0, KindAPIServer: 1, KindControllerManager: 2, KindScheduler: 3}

// AllMembers lists every member in start order: etcd, API servers, controllers.
func (p *Plan) AllMembers() []Member {
	var out []Member
	for _, k := range []string{KindEtcd, KindAPIServer, KindControllerManager, KindScheduler} {
		out = append(out, p.Members(k)...)
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
func (m Member) Address() string { return ipam.HostPort(m.IP, memberPort[m.Kind]) }

var memberPort = map[string]int{
	KindEtcd:              ipam.EtcdClientPort,
	KindAPIServer:         ipam.APIServerPort,
	KindControllerManager: ipam.ControllerManagerPort,
	KindScheduler:         ipam.SchedulerPort,
}

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

// ServingMembers lists the etcd members and API servers of the cluster in
// slot of cell, with the address each serves on: what the cell's zone health
// probes, without building a whole plan per cluster.
func ServingMembers(cell ipam.Cell, slot int) []Member {
	var out []Member
	for _, kind := range []string{KindEtcd, KindAPIServer} {
		for _, z := range zonesOf[kind] {
			out = append(out, Member{Kind: kind, Zone: z, IP: cell.MemberIP(ipam.ZoneIndex(z), slot, kindIndex[kind])})
		}
	}
	return out
}
