package cell

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/cellplane/cellplane/api/v1alpha1"
	"github.com/cellplane/cellplane/internal/cell/signin"
	"github.com/cellplane/cellplane/internal/controlplane"
	"github.com/cellplane/cellplane/internal/datadir"
	"github.com/cellplane/cellplane/internal/ekstoken"
	"github.com/cellplane/cellplane/internal/ipam"
	"github.com/cellplane/cellplane/internal/pki"
	"github.com/cellplane/cellplane/internal/region/api"
	"github.com/cellplane/cellplane/internal/sessiontoken"
	"github.com/cellplane/cellplane/internal/signingkeys"
	"github.com/cellplane/cellplane/internal/store"
)

// startSignIn serves the sign-in webhooks every API server of the cell
// calls, on the cell's store address, from a cache of the cell's own store
// (clusters, access entries, the signing keys the agent mirrors), so sign-in
// keeps working while the region is down. Its serving certificate comes from
// a CA of the cell's own, which the API servers' webhook kubeconfigs trust.
func (p *proc) startSignIn(ctx context.Context) error {
	dir := filepath.Join(p.dir, "signin")
	ca, _, err := pki.EnsureCA(dir, "ca", "cellplane sign-in "+p.name)
	if err != nil {
		return err
	}
	if _, err := pki.EnsurePair(dir, "serving", ca, pki.CertRequest{CommonName: "cellplane-signin",
		IPs: []net.IP{p.addrs.StoreIP()}, Usage: pki.Server}); err != nil {
		return err
	}
	cert, err := tls.LoadX509KeyPair(filepath.Join(dir, "serving.crt"), filepath.Join(dir, "serving.key"))
	if err != nil {
		return fmt.Errorf("loading the sign-in serving pair: %w", err)
	}
	cellKey, err := sessiontoken.LoadOrCreateKey(datadir.SessionCellKeyFile(p.cfg.DataDir))
	if err != nil {
		return fmt.Errorf("loading the session cell key: %w", err)
	}
	reader, err := p.signInCache(ctx)
	if err != nil {
		return err
	}
	addr := ipam.HostPort(p.addrs.StoreIP(), ipam.SignInPort)
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("sign-in server: %w", err)
	}
	layout := p.layout()
	tenant := &signin.TenantReader{Config: func(c *v1alpha1.Cluster) (*rest.Config, error) {
		pl := layout.Addresses(c)
		f := pl.Files()
		return &rest.Config{Host: pl.Endpoint(), Timeout: 10 * time.Second,
			TLSClientConfig: rest.TLSClientConfig{CAFile: f.CABundle, CertFile: f.Admin.Cert, KeyFile: f.Admin.Key}}, nil
	}}
	_, err = signin.Start(ctx, signin.Config{
		Listener: ln, Certificate: cert, Store: reader,
		Verifier:  &ekstoken.Verifier{Keys: signingkeys.Reader{Client: reader}, CellKey: cellKey, Region: api.DefaultRegion, Hosts: p.stsHosts()},
		ClientCAs: func(c *v1alpha1.Cluster) (*x509.CertPool, error) { return clusterCAs(layout.Addresses(c)) },
		Roles:     tenant, ConfigMaps: tenant,
		// The mode of the cell's copy of the cluster: an UpdateClusterConfig
		// reaches sign-in with the mirror, with no restart.
		AuthenticationMode: signin.ClusterMode,
		Log:                p.log.With("component", "signin"),
	})
	if err != nil {
		_ = ln.Close()
		return err
	}
	p.signIn = &controlplane.SignIn{URL: "https://" + addr, CAData: ca.CertPEM, CacheTTL: signin.CacheTTL}
	return nil
}

// signInCache caches what sign-in reads of the cell's store; of Secrets
// only the signing keys.
func (p *proc) signInCache(ctx context.Context) (client.Reader, error) {
	sc, err := store.Scheme()
	if err != nil {
		return nil, err
	}
	c, err := cache.New(p.store.RESTConfig(), cache.Options{Scheme: sc, DefaultTransform: cache.TransformStripManagedFields(),
		ByObject: map[client.Object]cache.ByObject{&corev1.Secret{}: {
			Label:      labels.SelectorFromSet(signingkeys.Selector()),
			Namespaces: map[string]cache.Config{signingkeys.Namespace: {}},
		}}})
	if err != nil {
		return nil, fmt.Errorf("creating the sign-in cache: %w", err)
	}
	for _, obj := range []client.Object{&v1alpha1.Cluster{}, &v1alpha1.AccessEntry{}, &corev1.Secret{}} {
		if _, err := c.GetInformer(ctx, obj); err != nil {
			return nil, fmt.Errorf("sign-in cache: %w", err)
		}
	}
	go func() {
		if err := c.Start(ctx); err != nil {
			p.log.Error("sign-in cache stopped", "err", err)
		}
	}()
	if !c.WaitForCacheSync(ctx) {
		return nil, fmt.Errorf("sign-in cache: %w", ctx.Err())
	}
	return c, nil
}

// clusterCAs is what a cluster's API servers' client certificates chain to.
func clusterCAs(pl *controlplane.Plan) (*x509.CertPool, error) {
	pem, err := os.ReadFile(pl.Files().CABundle)
	if err != nil {
		return nil, fmt.Errorf("reading the cluster's CA bundle: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("the cluster's CA bundle %s holds no certificate", pl.Files().CABundle)
	}
	return pool, nil
}

// stsHosts are the hosts a token's presigned GetCallerIdentity may name:
// AWS's STS hosts, for a CLI that ignores the profile's endpoint_url (the
// AWS CLI before 2.13), and the regional API, which serves STS, for one
// that honours it (later releases, and botocore's).
func (p *proc) stsHosts() []string {
	return []string{
		ipam.HostPort(p.block.RegionIP(), ipam.RegionAPIPort),
		"sts." + api.DefaultRegion + ".amazonaws.com", "sts.amazonaws.com",
	}
}
