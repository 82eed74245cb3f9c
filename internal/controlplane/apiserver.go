package controlplane

import (
	"cmp"
	"context"
	"fmt"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/cellplane/cellplane/api/v1alpha1"
	"github.com/cellplane/cellplane/internal/ipam"
	"github.com/cellplane/cellplane/internal/pki"
)

// KindAPIServer serves the cluster's API behind its endpoint: two, in zones
// a and b, TLS only, RBAC and Node authorization, audit log on.
const KindAPIServer = "kube-apiserver"

func init() { register(apiServer{}) }

type apiServer struct{}

func (apiServer) Kind() string               { return KindAPIServer }
func (apiServer) Zones() []string            { return []string{"a", "b"} }
func (apiServer) Address() (index, port int) { return 1, ipam.APIServerPort }
func (apiServer) Tier() Tier                 { return TierAPI }
func (apiServer) Condition() string          { return v1alpha1.ConditionAPIServersReady }

// ZoneOut: an API server in a zone out of rotation keeps running; the
// endpoint drains it, so clients move without their requests failing.
func (apiServer) ZoneOut() ZoneOut { return ZoneOutKeep }

func (apiServer) Command(p *Plan, m Member) (string, []string) {
	return p.in.Kubernetes.KubeAPIServer, p.apiServerArgs(m)
}

// Check asks /readyz as the cluster's admin, verifying the serving
// certificate against the cluster CA. It leaves out the KMS plugin's check,
// which the plugin's own condition reports.
func (apiServer) Check(ctx context.Context, pr *Prober, m Member) error {
	return get(ctx, pr.kube, "https://"+m.Address()+"/readyz?"+kmsHealthExclude)
}

// auditPolicy records who did what to which resource, without request bodies: enough
// for audit insights, cheap enough to leave on.
const auditPolicy = `apiVersion: audit.k8s.io/v1
kind: Policy
omitStages: ["RequestReceived"]
rules:
- level: None
  nonResourceURLs: ["/healthz*", "/livez*", "/readyz*", "/version"]
- level: Metadata
`

// WriteFiles writes the audit policy and the authentication configuration
// the API servers read.
func (apiServer) WriteFiles(p *Plan) error {
	if err := pki.WriteFileAtomic(p.AuditPolicyPath(), []byte(cmp.Or(p.in.Platform.AuditPolicy, auditPolicy)), 0o600); err != nil {
		return fmt.Errorf("writing audit policy: %w", err)
	}
	if err := p.writeSignInConfigs(); err != nil {
		return err
	}
	return p.writeAuthenticationConfig()
}

// AuditPolicyPath is where the API servers' audit policy lives. A platform
// version's own policy gets a file named for it, so that the API servers'
// flags change with it and the runtime restarts them to read it.
func (p *Plan) AuditPolicyPath() string {
	if p.in.Platform.AuditPolicy != "" {
		return filepath.Join(p.ConfigDir(), "audit-policy-"+p.in.Platform.Name+".yaml")
	}
	return filepath.Join(p.ConfigDir(), "audit-policy.yaml")
}

func (p *Plan) apiServerArgs(m Member) []string {
	f := p.pki
	serving := f.APIServer[m.Name()]
	args := []string{
		// The kubernetes Service's endpoint: an address of the member's zone
		// in the cluster's own network, where a forwarder passes connections
		// to the endpoint (package clusternet). Loopback addresses would fail
		// EndpointSlice validation.
		"--advertise-address=" + ipam.ClusterServiceIP(ipam.ZoneIndex(m.Zone)).String(),
		// What the advertised address would otherwise default: the address
		// in discovery's serverAddressByClientCIDRs and the service-account
		// issuer's default JWKS URI, reachable from the host.
		"--external-hostname=" + m.IP.String(),
		"--bind-address=" + m.IP.String(),
		"--secure-port=" + strconv.Itoa(ipam.APIServerPort),
		"--etcd-servers=" + strings.Join(p.EtcdEndpoints(), ","),
		"--etcd-cafile=" + f.EtcdCA,
		"--etcd-certfile=" + f.APIServerEtcdClient.Cert,
		"--etcd-keyfile=" + f.APIServerEtcdClient.Key,
		"--tls-cert-file=" + serving.Cert,
		"--tls-private-key-file=" + serving.Key,
		"--client-ca-file=" + f.CABundle,
		"--authorization-mode=" + p.authorizationModes(),
		"--enable-admission-plugins=NodeRestriction",
		"--enable-bootstrap-token-auth=true",
		"--allow-privileged=true",
		"--service-cluster-ip-range=" + ServiceCIDR,
		"--service-account-issuer=" + p.Endpoint(),
		"--service-account-key-file=" + f.SAPub,
		"--service-account-signing-key-file=" + f.SAKey,
		// Kubelets' serving certificates come from the cluster's own signer
		// (serverTLSBootstrap), so logs, exec and port-forward verify the node
		// they talk to instead of trusting whatever answers on its address.
		"--kubelet-certificate-authority=" + f.CABundle,
		// Nodes by their addresses, as kubeadm does: the default tries the
		// node's name first, a DNS lookup that leaves the machine.
		"--kubelet-preferred-address-types=InternalIP,ExternalIP,Hostname",
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
		"--profiling=false",
	}
	args = append(args, p.encryptionArgs(m)...)
	args = append(args, p.signInArgs()...)
	args = append(args, p.authenticationArgs()...)
	if p.in.RuntimeConfig != "" {
		args = append(args, "--runtime-config="+p.in.RuntimeConfig)
	}
	if p.in.GoawayChance > 0 {
		args = append(args, "--goaway-chance="+strconv.FormatFloat(p.in.GoawayChance, 'f', -1, 64))
	}
	return args
}
