package controlplane

import (
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	kmsapi "k8s.io/kms/apis/v2"

	"github.com/cellplane/cellplane/internal/kms/plugin"
	"github.com/cellplane/cellplane/internal/pki"
)

// KindKMSPlugin seals the data keys the API servers encrypt Secrets with
// (KMS v2): one beside each API server, in its zone, serving on a unix socket
// in the cluster's directory, so killing one leaves the other API server's
// Secrets readable. It is `cellplane kms-plugin`, holding the cluster's keys,
// which the cell hands it in its environment (see Input.SecretsKeys).
const KindKMSPlugin = "kms-plugin"

// ConditionKMSPluginsReady reports whether every KMS plugin answers its
// Status call healthy. The API servers' own KMS check is left out of the
// endpoint's health check, so a plugin problem shows here instead of taking
// every API server out of the endpoint at once.
const ConditionKMSPluginsReady = "KMSPluginsReady"

// KMSProviderName names the provider in the EncryptionConfiguration; it is
// part of every sealed value's prefix in etcd: k8s:enc:kms:v2:cellplane:.
const KMSProviderName = "cellplane"

// kmsTimeout bounds every call an API server makes to its plugin: a local
// AES-GCM seal takes microseconds, so a slower answer is a plugin in trouble.
const kmsTimeout = 3 * time.Second

// kmsHealthExclude is the API server health check that calls the KMS
// plugins; the endpoint and the API servers' own probe leave it out.
const kmsHealthExclude = "exclude=kms-providers"

func init() { register(kmsPlugin{}) }

type kmsPlugin struct{}

func (kmsPlugin) Kind() string    { return KindKMSPlugin }
func (kmsPlugin) Zones() []string { return apiServer{}.Zones() }

// Address: a plugin has no network address; it is shown beside its API
// server's, on no port.
func (kmsPlugin) Address() (index, port int) { return 1, 0 }

// Tier: a plugin depends on nothing, and an API server started before it
// retries until it answers. It starts with the controllers because the
// store and API tiers are what zone health probes on their addresses.
func (kmsPlugin) Tier() Tier        { return TierControllers }
func (kmsPlugin) Condition() string { return ConditionKMSPluginsReady }

// ZoneOut: the plugin serves its API server, which keeps running while the
// endpoint drains it.
func (kmsPlugin) ZoneOut() ZoneOut { return ZoneOutKeep }

func (kmsPlugin) Command(p *Plan, m Member) (string, []string) {
	return p.in.Cellplane, []string{"kms-plugin", "--socket=" + p.KMSSocket(m)}
}

// Env hands the plugin the cluster's keys: the environment is readable only
// by the process's user and root and never written to disk. Without keys
// the plugin refuses to start, and the supervisor retries. Nothing else: the
// plugin needs no PATH or HOME, and taking cellplane's would restart it
// whenever cellplane is started from another shell.
func (kmsPlugin) Env(p *Plan, _ Member) []string {
	env := []string{}
	if p.in.SecretsKeyDisabled != "" {
		// No keys: the customer key is disabled (see plugin.Disabled).
		return append(env, plugin.DisabledEnv+"="+p.in.SecretsKeyDisabled)
	}
	if p.in.SecretsKeys != "" {
		env = append(env, plugin.KeysetEnv+"="+p.in.SecretsKeys)
	}
	return env
}

// TenantWritable is the sockets' directory: isolated, the plugins create
// their sockets there as the cluster's user.
func (kmsPlugin) TenantWritable(p *Plan) []string { return []string{p.KMSDir()} }

// WriteFiles writes each API server's EncryptionConfiguration, naming its
// zone's plugin, and makes the sockets' directory private: cellplane's
// alone, or, isolated, shared with the cluster's user only (the isolation
// phase sets it up, tenantuser.Prepare).
func (kmsPlugin) WriteFiles(p *Plan) error {
	if err := os.MkdirAll(p.KMSDir(), 0o700); err != nil {
		return fmt.Errorf("creating KMS socket directory: %w", err)
	}
	if p.Isolation() == nil {
		if err := os.Chmod(p.KMSDir(), 0o700); err != nil { //nolint:gosec // G302: a directory, private to its owner; its sockets need the x bit
			return fmt.Errorf("restricting KMS socket directory: %w", err)
		}
	}
	for _, api := range p.Members(KindAPIServer) {
		cfg := encryptionConfig(p.kmsEndpoint(p.member(KindKMSPlugin, api.Zone)))
		if err := pki.WriteFileAtomic(p.EncryptionConfigPath(api), []byte(cfg), 0o600); err != nil {
			return fmt.Errorf("writing %s's encryption configuration: %w", api.Name(), err)
		}
	}
	return nil
}

// encryptionConfig encrypts Secrets with the KMS v2 plugin at endpoint.
// identity comes second so that Secrets written before encryption was turned
// on stay readable; every write seals with the first provider.
func encryptionConfig(endpoint string) string {
	return fmt.Sprintf(`apiVersion: apiserver.config.k8s.io/v1
kind: EncryptionConfiguration
resources:
- resources: ["secrets"]
  providers:
  - kms:
      apiVersion: v2
      name: %s
      endpoint: %s
      timeout: %s
  - identity: {}
`, KMSProviderName, endpoint, kmsTimeout)
}

// Check calls the plugin's Status over its socket, as kube-apiserver does.
func (kmsPlugin) Check(ctx context.Context, pr *Prober, m Member) error {
	ctx, cancel := context.WithTimeout(ctx, checkTimeout)
	defer cancel()
	path := pr.plan.KMSSocket(m)
	conn, err := grpc.NewClient("passthrough:///kms", grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithContextDialer(func(ctx context.Context, _ string) (net.Conn, error) { return plugin.Dial(ctx, path) }))
	if err != nil {
		return fmt.Errorf("%w: %v", ErrUnhealthy, err)
	}
	defer func() { _ = conn.Close() }() // the answer is read; closing adds nothing to it
	st, err := kmsapi.NewKeyManagementServiceClient(conn).Status(ctx, &kmsapi.StatusRequest{})
	if err != nil {
		return fmt.Errorf("%w: KMS plugin: %v", ErrUnhealthy, err)
	}
	if st.Healthz != "ok" {
		return fmt.Errorf("%w: KMS plugin says %q", ErrUnhealthy, st.Healthz)
	}
	return nil
}

// KMSDir holds the plugins' sockets.
func (p *Plan) KMSDir() string { return filepath.Join(p.in.Dir, "kms") }

// KMSSocket is where plugin m serves.
func (p *Plan) KMSSocket(m Member) string { return filepath.Join(p.KMSDir(), m.Name()+".sock") }

// EncryptionConfigPath is API server m's EncryptionConfiguration.
func (p *Plan) EncryptionConfigPath(m Member) string {
	return filepath.Join(p.ConfigDir(), "encryption-"+m.Name()+".yaml")
}

// maxSocketAddr is the longest path a unix socket address holds.
const maxSocketAddr = 107

// kmsEndpoint is how an API server reaches plugin m. A cluster's directory
// may be too deep for a socket address; every member runs in it (Plan.Spec),
// so the API server reaches the same socket through its working directory.
func (p *Plan) kmsEndpoint(m Member) string {
	path := p.KMSSocket(m)
	if len(path) > maxSocketAddr {
		path = "/proc/self/cwd/" + filepath.Join("kms", filepath.Base(path))
	}
	return "unix://" + path
}

// encryptionArgs points API server m at its EncryptionConfiguration when
// the plan runs KMS plugins.
func (p *Plan) encryptionArgs(m Member) []string {
	if len(p.Members(KindKMSPlugin)) == 0 {
		return nil
	}
	return []string{"--encryption-provider-config=" + p.EncryptionConfigPath(m)}
}
