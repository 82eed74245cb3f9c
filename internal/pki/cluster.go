package pki

import (
	"fmt"
	"net"
	"path/filepath"
	"regexp"
)

// Member is one etcd member or API server of a tenant control plane.
type Member struct {
	Name string // a DNS label; names files and, for etcd, a SAN
	IP   net.IP
	// SourceIP, when set, is where the member's own connections come from
	// (its zone's source address when zones have network namespaces); etcd
	// peer certificates name it too.
	SourceIP net.IP
}

// ClusterSpec is what the certificates of one tenant control plane depend on.
// Changing addresses or members and calling EnsureCluster again reissues just
// the certificates concerned; ClusterName only names the CAs when they are
// first made.
type ClusterSpec struct {
	ClusterName      string
	EndpointIPs      []net.IP // the load balancer address(es) clients use
	EndpointDNSNames []string
	EtcdMembers      []Member
	APIServers       []Member
	ServiceIP        net.IP // first IP of the service CIDR, e.g. 10.96.0.1
}

// Pair holds the absolute paths of a certificate and its key.
type Pair struct{ Cert, Key string }

// ClusterFiles holds the absolute paths of a tenant control plane's PKI.
// Maps are keyed by Member.Name.
type ClusterFiles struct {
	EtcdCA, EtcdCAKey   string
	EtcdServer          map[string]Pair
	EtcdPeer            map[string]Pair
	APIServerEtcdClient Pair
	CellplaneEtcdClient Pair

	// CA and CAKey are the signer; CABundle is what components trust: the
	// signer and, during a CA rotation, the other CAs (see bundle.go).
	// CAStore is the directory of the CAs kept by ID for a rotation.
	CA, CAKey         string
	CABundle, CAStore string
	APIServer         map[string]Pair
	KubeletClient     Pair
	ControllerManager Pair
	Scheduler         Pair
	Admin             Pair

	FrontProxyCA, FrontProxyCAKey string
	FrontProxyClient              Pair

	SAKey, SAPub string
}

// EnsureCluster brings the PKI of one tenant control plane under dir up to
// date with spec and returns where its files are. It only writes what is
// missing, corrupt or stale, so it is safe to call on every reconcile.
// Leaves live a year and are renewed 30 days before they expire.
func EnsureCluster(dir string, spec ClusterSpec) (*ClusterFiles, error) {
	files, _, err := EnsureClusterWith(dir, spec, DefaultRenewal())
	return files, err
}

// EnsureClusterWith is EnsureCluster with leaves that live and renew as ren
// says (the zero Renewal is the default), and reports what it renewed and
// when the next leaf is due.
func EnsureClusterWith(dir string, spec ClusterSpec, ren Renewal) (*ClusterFiles, Renewed, error) {
	ren = ren.orDefault()
	if err := ren.Validate(); err != nil {
		return nil, Renewed{}, err
	}
	if err := spec.validate(); err != nil {
		return nil, Renewed{}, err
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, Renewed{}, fmt.Errorf("resolving PKI directory: %w", err)
	}
	files := ClusterPaths(abs, spec)
	if err := files.checkDistinct(); err != nil {
		return nil, Renewed{}, err
	}
	out, err := ensureClusterFiles(files, spec, ren)
	if err != nil {
		return nil, Renewed{}, fmt.Errorf("ensuring PKI of cluster %s: %w", spec.ClusterName, err)
	}
	return files, out, nil
}

// ensureClusterFiles issues and writes everything at once. Creating a
// cluster's PKI is bound by fsync, a millisecond or more a call on ext4 and
// far more on a busy disk; written concurrently, the file system commits all
// pairs in a few journal transactions instead of one each.
func ensureClusterFiles(f *ClusterFiles, spec ClusterSpec, ren Renewal) (Renewed, error) {
	cas, tasks, err := loadClusterCAs(f, spec.ClusterName)
	if err != nil {
		return Renewed{}, err
	}
	tasks = append(tasks, func() error { return ensureSAKey(f.SAKey, f.SAPub) })
	leaves := clusterLeaves(f, spec, cas)
	results := make([]leafResult, len(leaves))
	for i, l := range leaves {
		tasks = append(tasks, func() (err error) { results[i], err = l.ensure(ren); return err })
	}
	if err := runAll(tasks); err != nil {
		return Renewed{}, err
	}
	if err := ensureBundle(f); err != nil {
		return Renewed{}, err
	}
	return summarize(leaves, results, ren), nil
}

func summarize(leaves []leaf, results []leafResult, ren Renewal) Renewed {
	var out Renewed
	for i, r := range results {
		if r.issued {
			out.Issued = append(out.Issued, leaves[i].name())
		}
		if due := r.notAfter.Add(-ren.RenewBefore); out.Next.IsZero() || due.Before(out.Next) {
			out.Next = due
		}
	}
	return out
}

// ClusterPaths returns where EnsureCluster keeps each file, without touching
// disk, for callers that only need to point components at them.
func ClusterPaths(dir string, spec ClusterSpec) *ClusterFiles {
	if abs, err := filepath.Abs(dir); err == nil {
		dir = abs
	}
	etcd := filepath.Join(dir, "etcd")
	f := &ClusterFiles{
		EtcdServer:          map[string]Pair{},
		EtcdPeer:            map[string]Pair{},
		APIServerEtcdClient: pairAt(etcd, "apiserver-etcd-client"),
		CellplaneEtcdClient: pairAt(etcd, "cellplane-etcd-client"),
		APIServer:           map[string]Pair{},
		KubeletClient:       pairAt(dir, "apiserver-kubelet-client"),
		ControllerManager:   pairAt(dir, "controller-manager"),
		Scheduler:           pairAt(dir, "scheduler"),
		Admin:               pairAt(dir, "admin"),
		FrontProxyClient:    pairAt(dir, "front-proxy-client"),
		SAKey:               filepath.Join(dir, "sa.key"),
		SAPub:               filepath.Join(dir, "sa.pub"),
	}
	f.EtcdCA, f.EtcdCAKey = pairPaths(etcd, "ca")
	f.CA, f.CAKey = pairPaths(dir, "ca")
	f.CABundle, f.CAStore = filepath.Join(dir, "ca-bundle.crt"), caStoreDir(dir)
	f.FrontProxyCA, f.FrontProxyCAKey = pairPaths(dir, "front-proxy-ca")
	for _, m := range spec.EtcdMembers {
		f.EtcdServer[m.Name] = pairAt(etcd, "server-"+m.Name)
		f.EtcdPeer[m.Name] = pairAt(etcd, "peer-"+m.Name)
	}
	for _, m := range spec.APIServers {
		f.APIServer[m.Name] = pairAt(dir, "apiserver-"+m.Name)
	}
	return f
}

// all lists every file of the cluster's PKI.
func (f *ClusterFiles) all() []string {
	out := []string{f.EtcdCA, f.EtcdCAKey, f.CA, f.CAKey, f.CABundle, f.FrontProxyCA, f.FrontProxyCAKey, f.SAKey, f.SAPub}
	for _, m := range []map[string]Pair{f.EtcdServer, f.EtcdPeer, f.APIServer} {
		for _, p := range m {
			out = append(out, p.Cert, p.Key)
		}
	}
	for _, p := range []Pair{f.APIServerEtcdClient, f.CellplaneEtcdClient, f.KubeletClient,
		f.ControllerManager, f.Scheduler, f.Admin, f.FrontProxyClient} {
		out = append(out, p.Cert, p.Key)
	}
	return out
}

// checkDistinct guards against member names that map two certificates onto
// one file, such as an API server called "kubelet-client": the two would
// overwrite each other on every run.
func (f *ClusterFiles) checkDistinct() error {
	seen := map[string]bool{}
	for _, path := range f.all() {
		if seen[path] {
			return fmt.Errorf("%w: two certificates would share %s", ErrInvalidRequest, path)
		}
		seen[path] = true
	}
	return nil
}

func pairAt(dir, name string) Pair {
	cert, key := pairPaths(dir, name)
	return Pair{Cert: cert, Key: key}
}

// dnsLabel keeps member names safe both as file name parts and as SANs.
var dnsLabel = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`)

func (s ClusterSpec) validate() error {
	if s.ClusterName == "" {
		return fmt.Errorf("%w: empty cluster name", ErrInvalidRequest)
	}
	if s.ServiceIP == nil {
		return fmt.Errorf("%w: cluster %s: no service IP", ErrInvalidRequest, s.ClusterName)
	}
	if err := validateMembers("etcd member", s.EtcdMembers); err != nil {
		return fmt.Errorf("cluster %s: %w", s.ClusterName, err)
	}
	if err := validateMembers("API server", s.APIServers); err != nil {
		return fmt.Errorf("cluster %s: %w", s.ClusterName, err)
	}
	return nil
}

func validateMembers(kind string, members []Member) error {
	if len(members) == 0 {
		return fmt.Errorf("%w: no %ss", ErrInvalidRequest, kind)
	}
	seen := map[string]bool{}
	for _, m := range members {
		if !dnsLabel.MatchString(m.Name) || m.IP == nil || seen[m.Name] {
			return fmt.Errorf("%w: %s %q: name must be a unique DNS label and IP set", ErrInvalidRequest, kind, m.Name)
		}
		seen[m.Name] = true
	}
	return nil
}
