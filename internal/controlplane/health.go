package controlplane

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"time"
)

// ErrUnhealthy is wrapped by every failed health check.
var ErrUnhealthy = errors.New("unhealthy")

// checkTimeout bounds one probe; a member slower than this is not healthy.
const checkTimeout = 2 * time.Second

// Prober checks the members of one control plane. It keeps its connections between
// checks, so polling during creation costs no new TLS handshakes.
type Prober struct {
	plan    *Plan
	etcd    *http.Client // mutual TLS against the etcd CA
	kube    *http.Client // verifies API servers against the cluster CA, as admin
	selfTLS *http.Client // controllers serve self-signed certificates
}

// NewProber loads the cluster's CA and client certificates.
func NewProber(p *Plan) (*Prober, error) {
	f := p.Files()
	etcd, err := tlsClient(f.EtcdCA, f.CellplaneEtcdClient.Cert, f.CellplaneEtcdClient.Key)
	if err != nil {
		return nil, fmt.Errorf("etcd client: %w", err)
	}
	kube, err := tlsClient(f.CABundle, f.Admin.Cert, f.Admin.Key)
	if err != nil {
		return nil, fmt.Errorf("admin client: %w", err)
	}
	// The controllers' /healthz is served to anyone on their own loopback address;
	// what matters is that the process answers, not who it claims to be.
	self := &http.Client{Timeout: checkTimeout, Transport: &http.Transport{
		TLSClientConfig: &tls.Config{InsecureSkipVerify: true}, //nolint:gosec // liveness only
	}}
	return &Prober{plan: p, etcd: etcd, kube: kube, selfTLS: self}, nil
}

// Close releases idle connections.
func (pr *Prober) Close() {
	for _, c := range []*http.Client{pr.etcd, pr.kube, pr.selfTLS} {
		c.CloseIdleConnections()
	}
}

// Check probes member m the way its component says.
func (pr *Prober) Check(ctx context.Context, m Member) error {
	return m.Component.Check(ctx, pr, m)
}

// CheckEndpoint makes an authenticated request through the load balancer: the
// proof that tenants can use the cluster.
func (pr *Prober) CheckEndpoint(ctx context.Context) error {
	return get(ctx, pr.kube, pr.plan.Endpoint()+authenticatedPath)
}

// CheckAPIServer makes the same authenticated request to one API server directly.
func (pr *Prober) CheckAPIServer(ctx context.Context, m Member) error {
	return get(ctx, pr.kube, "https://"+m.Address()+authenticatedPath)
}

// authenticatedPath is readable only by an authenticated, authorized user.
const authenticatedPath = "/api/v1/namespaces/kube-system"

func get(ctx context.Context, c *http.Client, url string) error {
	_, err := fetch(ctx, c, url)
	return err
}

func fetch(ctx context.Context, c *http.Client, url string) ([]byte, error) {
	ctx, cancel := context.WithTimeout(ctx, checkTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, err
	}
	resp, err := c.Do(req)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrUnhealthy, err)
	}
	defer resp.Body.Close() //nolint:errcheck // read-only; the status and body read decide
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("%w: %s answered %s", ErrUnhealthy, url, resp.Status)
	}
	return body, nil
}

func tlsClient(caFile, certFile, keyFile string) (*http.Client, error) {
	caPEM, err := os.ReadFile(caFile)
	if err != nil {
		return nil, fmt.Errorf("reading CA: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(caPEM) {
		return nil, fmt.Errorf("no certificate in %s", caFile)
	}
	cert, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		return nil, fmt.Errorf("loading client certificate: %w", err)
	}
	cfg := &tls.Config{RootCAs: pool, Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	return &http.Client{Timeout: checkTimeout, Transport: &http.Transport{TLSClientConfig: cfg, MaxIdleConnsPerHost: 2}}, nil
}
