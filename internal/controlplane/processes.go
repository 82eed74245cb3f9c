package controlplane

import (
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/cellplane/cellplane/internal/ipam"
	"github.com/cellplane/cellplane/internal/runtime/process"
)

// Spec returns the process that runs member m.
func (p *Plan) Spec(m Member) process.Spec {
	var path string
	var args []string
	switch m.Kind {
	case KindEtcd:
		path, args = p.in.Etcd.Etcd, p.etcdArgs(m)
	case KindAPIServer:
		path, args = p.in.Kubernetes.KubeAPIServer, p.apiServerArgs(m)
	case KindControllerManager:
		path, args = p.in.Kubernetes.KubeControllerManager, p.controllerManagerArgs(m)
	case KindScheduler:
		path, args = p.in.Kubernetes.KubeScheduler, p.schedulerArgs(m)
	}
	return process.Spec{
		ID:       p.ID() + "/" + m.Name(),
		Path:     path,
		Args:     args,
		Dir:      p.in.Dir,
		StateDir: p.LogDir(),
		Name:     m.Name(),
		NetNS:    p.in.ZoneNetNS[m.Zone],
	}
}

// EtcdDataDir is member m's data directory: it lives as long as the cluster, so a
// restarted member comes back with its identity and data.
func (p *Plan) EtcdDataDir(m Member) string { return filepath.Join(p.in.Dir, m.Name()) }

func (p *Plan) etcdArgs(m Member) []string {
	f := p.pki
	var initial []string
	for _, peer := range p.Members(KindEtcd) {
		initial = append(initial, peer.Name()+"=https://"+ipam.HostPort(peer.IP, ipam.EtcdPeerPort))
	}
	client := "https://" + ipam.HostPort(m.IP, ipam.EtcdClientPort)
	peer := p.EtcdPeerURL(m)
	args := []string{
		"--name=" + m.Name(),
		"--data-dir=" + p.EtcdDataDir(m),
		"--listen-client-urls=" + client,
		"--advertise-client-urls=" + client,
		"--listen-peer-urls=" + peer,
		"--initial-advertise-peer-urls=" + peer,
		"--initial-cluster=" + strings.Join(initial, ","),
		"--initial-cluster-state=" + p.etcdClusterState(m),
		"--initial-cluster-token=" + p.EtcdClusterToken(),
		"--client-cert-auth",
		"--trusted-ca-file=" + f.EtcdCA,
		"--cert-file=" + f.EtcdServer[m.Name()].Cert,
		"--key-file=" + f.EtcdServer[m.Name()].Key,
		"--peer-client-cert-auth",
		"--peer-trusted-ca-file=" + f.EtcdCA,
		"--peer-cert-file=" + f.EtcdPeer[m.Name()].Cert,
		"--peer-key-file=" + f.EtcdPeer[m.Name()].Key,
		"--log-level=warn",
	}
	// Only a quota the user chose is passed: etcd's own default is ours, and an
	// unchanged command line keeps running members from being restarted.
	if p.in.EtcdQuotaBytes > 0 {
		args = append(args, "--quota-backend-bytes="+strconv.FormatInt(p.in.EtcdQuotaBytes, 10))
	}
	return args
}

func (p *Plan) etcdClusterState(m Member) string {
	if slices.Contains(p.in.EtcdJoined, m.Name()) {
		return "existing"
	}
	return "new"
}

// EtcdPeerURL is member m's --initial-advertise-peer-urls.
func (p *Plan) EtcdPeerURL(m Member) string {
	return "https://" + ipam.HostPort(m.IP, ipam.EtcdPeerPort)
}

// EtcdClusterToken is etcd's --initial-cluster-token: the cluster's UID, so two
// incarnations of a cluster name never take each other's members for peers.
func (p *Plan) EtcdClusterToken() string { return p.in.UID }

// Etcdutl is the etcdutl binary of the cluster's etcd release.
func (p *Plan) Etcdutl() string { return p.in.Etcd.Etcdutl }

// EtcdEndpoints lists every member's client URL.
func (p *Plan) EtcdEndpoints() []string {
	var out []string
	for _, m := range p.Members(KindEtcd) {
		out = append(out, "https://"+m.Address())
	}
	return out
}

func (p *Plan) apiServerArgs(m Member) []string {
	f := p.pki
	serving := f.APIServer[m.Name()]
	args := []string{
		"--advertise-address=" + m.IP.String(),
		"--bind-address=" + m.IP.String(),
		"--secure-port=" + strconv.Itoa(ipam.APIServerPort),
		"--etcd-servers=" + strings.Join(p.EtcdEndpoints(), ","),
		"--etcd-cafile=" + f.EtcdCA,
		"--etcd-certfile=" + f.APIServerEtcdClient.Cert,
		"--etcd-keyfile=" + f.APIServerEtcdClient.Key,
		"--tls-cert-file=" + serving.Cert,
		"--tls-private-key-file=" + serving.Key,
		"--client-ca-file=" + f.CA,
		"--authorization-mode=Node,RBAC",
		"--enable-admission-plugins=NodeRestriction",
		"--enable-bootstrap-token-auth=true",
		"--allow-privileged=true",
		"--service-cluster-ip-range=" + ServiceCIDR,
		"--service-account-issuer=" + p.Endpoint(),
		"--service-account-key-file=" + f.SAPub,
		"--service-account-signing-key-file=" + f.SAKey,
		"--kubelet-client-certificate=" + f.KubeletClient.Cert,
		"--kubelet-client-key=" + f.KubeletClient.Key,
		"--proxy-client-cert-file=" + f.FrontProxyClient.Cert,
		"--proxy-client-key-file=" + f.FrontProxyClient.Key,
		"--requestheader-client-ca-file=" + f.FrontProxyCA,
		"--requestheader-allowed-names=front-proxy-client",
		"--requestheader-username-headers=X-Remote-User",
		"--requestheader-group-headers=X-Remote-Group",
		"--requestheader-extra-headers-prefix=X-Remote-Extra-",
		"--audit-policy-file=" + p.AuditPolicyPath(),
		"--audit-log-path=" + filepath.Join(p.LogDir(), "audit-"+m.Name()+".log"),
		"--audit-log-maxsize=100",
		"--audit-log-maxbackup=3",
		// Loopback addresses fail Endpoints validation; the kubernetes Service gets
		// real endpoints once a runtime gives members routable addresses.
		"--endpoint-reconciler-type=none",
		"--profiling=false",
	}
	if p.in.GoawayChance > 0 {
		args = append(args, "--goaway-chance="+strconv.FormatFloat(p.in.GoawayChance, 'f', -1, 64))
	}
	return args
}

// controllerArgs are what controller-manager and scheduler share: their zone's API
// server for everything, their own address, leader election. The order is part of
// the spec hash, so it must not change under running clusters.
func (p *Plan) controllerArgs(m Member) []string {
	kc := p.KubeconfigPath(m)
	return []string{
		"--kubeconfig=" + kc,
		"--authentication-kubeconfig=" + kc,
		"--authorization-kubeconfig=" + kc,
		"--bind-address=" + m.IP.String(),
		"--secure-port=" + strconv.Itoa(memberPort[m.Kind]),
		"--leader-elect=true",
	}
}

func (p *Plan) controllerManagerArgs(m Member) []string {
	f := p.pki
	return append(p.controllerArgs(m),
		"--client-ca-file="+f.CA,
		"--requestheader-client-ca-file="+f.FrontProxyCA,
		"--cluster-signing-cert-file="+f.CA,
		"--cluster-signing-key-file="+f.CAKey,
		"--root-ca-file="+f.CA,
		"--service-account-private-key-file="+f.SAKey,
		"--use-service-account-credentials=true",
		"--controllers=*,bootstrapsigner,tokencleaner",
		"--cluster-name="+p.in.Name,
		"--service-cluster-ip-range="+ServiceCIDR,
		"--profiling=false",
	)
}

func (p *Plan) schedulerArgs(m Member) []string { return p.controllerArgs(m) }
