package controlplane

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/cellplane/cellplane/api/v1alpha1"
	"github.com/cellplane/cellplane/internal/ipam"
)

// KindEtcd is the cluster's store: three members, one per zone, mutual TLS
// for clients and peers.
const KindEtcd = "etcd"

func init() { register(etcd{}) }

type etcd struct{}

func (etcd) Kind() string               { return KindEtcd }
func (etcd) Zones() []string            { return []string{"a", "b", "c"} }
func (etcd) Address() (index, port int) { return 0, ipam.EtcdClientPort }
func (etcd) Tier() Tier                 { return TierStore }
func (etcd) Condition() string          { return v1alpha1.ConditionEtcdReady }

// ZoneOut: a shifted zone's member keeps serving for quorum. An impaired
// zone's is slow or unreachable, and every API server's etcd client spreads
// requests over all members, so each request sent there stalls (gRPC has no
// latency-aware balancing): stopping it takes it out of their rotation, etcd
// hands its leadership over as it stops, and the two others keep quorum.
func (etcd) ZoneOut() ZoneOut { return ZoneOutStopWhenImpaired }

func (etcd) WriteFiles(*Plan) error { return nil }

func (etcd) Command(p *Plan, m Member) (string, []string) { return p.in.Etcd.Etcd, p.etcdArgs(m) }

// Check asks the member's /health, over mutual TLS.
func (etcd) Check(ctx context.Context, pr *Prober, m Member) error {
	body, err := fetch(ctx, pr.etcd, "https://"+m.Address()+"/health")
	if err != nil {
		return err
	}
	var h struct{ Health string }
	if err := json.Unmarshal(body, &h); err != nil || h.Health != "true" {
		return fmt.Errorf("%w: etcd /health says %s", ErrUnhealthy, body)
	}
	return nil
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
