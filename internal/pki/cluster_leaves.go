package pki

import (
	"errors"
	"fmt"
	"net"
	"path/filepath"
	"strings"
	"sync"
	"time"
)

var localhostIP = net.IPv4(127, 0, 0, 1)

// apiServerDNSNames are the names in-cluster clients use for the API server
// through the kubernetes Service, plus localhost for probes on the host.
var apiServerDNSNames = []string{
	"kubernetes",
	"kubernetes.default",
	"kubernetes.default.svc",
	"kubernetes.default.svc.cluster.local",
	"localhost",
}

type clusterCAs struct{ etcd, kube, frontProxy *CA }

// leaf is one certificate of a cluster: where it lives, who signs it, what it
// says.
type leaf struct {
	files Pair
	ca    *CA
	req   CertRequest
}

func (l leaf) name() string { return strings.TrimSuffix(filepath.Base(l.files.Cert), ".crt") }

// leafResult is what ensuring one leaf did.
type leafResult struct {
	issued   bool
	notAfter time.Time
}

func (l leaf) ensure(ren Renewal) (leafResult, error) {
	issued, notAfter, err := ensurePair(l.files, l.ca, l.req, ren)
	if err != nil {
		return leafResult{}, fmt.Errorf("ensuring %s: %w", l.name(), err)
	}
	return leafResult{issued, notAfter}, nil
}

// loadClusterCAs loads the cluster's CAs, or makes new ones in memory, and
// returns the writes still owed for the new ones. Leaves need not wait for
// those writes: if the process dies before a CA reaches disk, the next run
// makes another CA and EnsurePair reissues the leaves signed by this one.
func loadClusterCAs(f *ClusterFiles, cluster string) (*clusterCAs, []func() error, error) {
	var cas clusterCAs
	var writes []func() error
	for _, c := range []struct {
		dst               **CA
		cert, key, suffix string
	}{
		{&cas.etcd, f.EtcdCA, f.EtcdCAKey, "-etcd-ca"},
		{&cas.kube, f.CA, f.CAKey, "-ca"},
		{&cas.frontProxy, f.FrontProxyCA, f.FrontProxyCAKey, "-front-proxy-ca"},
	} {
		ca, created, err := loadOrNewCA(c.cert, c.key, cluster+c.suffix)
		if err != nil {
			return nil, nil, err
		}
		if created && c.dst == &cas.kube {
			if stored, ok := recoverSigner(f); ok {
				ca = stored
			}
		}
		if created {
			writes = append(writes, func() error { return writeCA(ca, c.cert, c.key) })
		}
		*c.dst = ca
	}
	return &cas, writes, nil
}

// runAll runs tasks concurrently and joins their errors.
func runAll(tasks []func() error) error {
	errs := make([]error, len(tasks))
	var wg sync.WaitGroup
	for i, task := range tasks {
		wg.Go(func() { errs[i] = task() })
	}
	wg.Wait()
	return errors.Join(errs...)
}

func clusterLeaves(f *ClusterFiles, s ClusterSpec, cas *clusterCAs) []leaf {
	var out []leaf
	out = append(out, etcdLeaves(f, s, cas.etcd)...)
	out = append(out, kubeLeaves(f, s, cas.kube)...)
	return append(out, leaf{f.FrontProxyClient, cas.frontProxy, client("front-proxy-client")})
}

func etcdLeaves(f *ClusterFiles, s ClusterSpec, ca *CA) []leaf {
	var out []leaf
	for _, m := range s.EtcdMembers {
		out = append(out,
			leaf{f.EtcdServer[m.Name], ca, etcdServerRequest(m)},
			leaf{f.EtcdPeer[m.Name], ca, etcdPeerRequest(m)},
		)
	}
	return append(out,
		leaf{f.APIServerEtcdClient, ca, client("kube-apiserver-etcd-client")},
		leaf{f.CellplaneEtcdClient, ca, client("cellplane")},
	)
}

// etcdServerRequest is ServerAndClient because etcd's own gRPC gateway dials
// the member with its server certificate.
// etcdPeerRequest also names 127.0.0.1: etcd checks a peer's certificate against
// the connection's source address, and on loopback the kernel gives outgoing
// connections 127.0.0.1 whatever address the member listens on.
// In a zone with a network namespace of its own, connections come from the
// zone's source address instead, which m.SourceIP names.
func etcdPeerRequest(m Member) CertRequest {
	ips := []net.IP{m.IP, net.IPv4(127, 0, 0, 1)}
	if m.SourceIP != nil {
		ips = append(ips, m.SourceIP)
	}
	return CertRequest{CommonName: m.Name, IPs: ips, Usage: ServerAndClient}
}

func etcdServerRequest(m Member) CertRequest {
	return CertRequest{
		CommonName: m.Name,
		DNSNames:   []string{"localhost", m.Name},
		IPs:        []net.IP{m.IP, localhostIP},
		Usage:      ServerAndClient,
	}
}

func kubeLeaves(f *ClusterFiles, s ClusterSpec, ca *CA) []leaf {
	var out []leaf
	for _, m := range s.APIServers {
		out = append(out, leaf{f.APIServer[m.Name], ca, apiServerRequest(s, m)})
	}
	return append(out,
		leaf{f.KubeletClient, ca, client("kube-apiserver-kubelet-client", "system:masters")},
		leaf{f.ControllerManager, ca, client("system:kube-controller-manager")},
		leaf{f.Scheduler, ca, client("system:kube-scheduler")},
		leaf{f.Admin, ca, client("cellplane-admin", "system:masters")},
	)
}

// apiServerRequest names every address a client may dial: the member itself,
// the load balancer, the kubernetes Service and loopback.
func apiServerRequest(s ClusterSpec, m Member) CertRequest {
	ips := append([]net.IP{m.IP}, s.EndpointIPs...)
	return CertRequest{
		CommonName: "kube-apiserver",
		DNSNames:   append(append([]string{}, s.EndpointDNSNames...), apiServerDNSNames...),
		IPs:        append(ips, s.ServiceIP, localhostIP),
		Usage:      Server,
	}
}

func client(commonName string, organization ...string) CertRequest {
	return CertRequest{CommonName: commonName, Organization: organization, Usage: Client}
}
