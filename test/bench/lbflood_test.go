package bench

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"log"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/cellplane/cellplane/internal/lb"
	"github.com/cellplane/cellplane/internal/pki"
	"github.com/cellplane/cellplane/test/framework"
)

// Sizes of BenchmarkEndpointIdleFlood.
const (
	floodConns    = 20000
	floodSources  = 10 // loopback source addresses: 2,000 connections each, well inside one address's ephemeral ports
	floodDialers  = 16
	floodRequests = 1500 // GETs per phase
)

// BenchmarkEndpointIdleFlood opens 20,000 idle TCP connections to one endpoint
// of a real `cellplane lb` process, with its default caps, and measures GET
// /readyz on a second endpoint, each on a fresh TLS connection (the path a
// reconnecting client takes through the balancer's accept loop), against the
// same GETs before and after the flood. The balancer holds as many as the
// per-endpoint cap lets it and refuses the rest; the flood closes its side of
// a refused connection as soon as it sees the balancer's FIN, as a client
// would, so it needs few more descriptors than the balancer holds. The
// backends are in-process HTTPS servers: the ratio is the balancer's, and a
// real API server behind it would add the same time to both phases. The
// balancer runs with a first-byte timeout of two minutes so that the flood is
// held for the whole measurement; with the default (5 s) it would be gone
// sooner.
func BenchmarkEndpointIdleFlood(b *testing.B) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	benchIdleFlood(ctx, b, []string{"--first-byte-timeout", "2m"}, lb.DefaultMaxConnectionsPerEndpoint)
}

func benchIdleFlood(ctx context.Context, b *testing.B, args []string, held int) {
	cert := newFloodCert(b)
	flooded, second := startFloodBackend(b, cert), startFloodBackend(b, cert)
	bal := startLBProcess(ctx, b, cert, args, flooded, second)
	client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{
		TLSClientConfig: &tls.Config{RootCAs: cert.pool}, DisableKeepAlives: true}}

	timeGETs(b, client, bal.second, 200) // warm up
	b.ResetTimer()
	before := timeGETs(b, client, bal.second, floodRequests)
	start := time.Now()
	conns := openFlood(b, bal.flooded)
	bal.waitFlood(ctx, b, held)
	b.Logf("opened %d idle connections in %s; the balancer holds %d and refused the rest",
		len(conns), time.Since(start).Round(time.Millisecond), held)
	during := timeGETs(b, client, bal.second, floodRequests)
	st := bal.endpoint(ctx, b, "flooded")
	closeAll(conns)
	bal.waitDrained(ctx, b)
	after := timeGETs(b, client, bal.second, floodRequests)
	b.StopTimer()

	if st.Backends[0].ConnectionsOpened != 0 {
		b.Errorf("the flooded endpoint dialled its backend %d times for clients that sent nothing", st.Backends[0].ConnectionsOpened)
	}
	reportFlood(b, append(before, after...), during, st)
}

func reportFlood(b *testing.B, base, flood []time.Duration, st lb.EndpointStatus) {
	q := func(ds []time.Duration, p float64) float64 {
		ds = slices.Clone(ds)
		slices.Sort(ds)
		return float64(ds[int(p*float64(len(ds)-1))].Microseconds()) / 1000
	}
	ratio := q(flood, 0.99) / q(base, 0.99)
	b.ReportMetric(q(base, 0.5), "base-p50-ms")
	b.ReportMetric(q(base, 0.99), "base-p99-ms")
	b.ReportMetric(q(flood, 0.5), "flood-p50-ms")
	b.ReportMetric(q(flood, 0.99), "flood-p99-ms")
	b.ReportMetric(ratio, "ratio-p99")
	b.Logf("second endpoint, %d GETs without and %d with the flood: p50 %.2f → %.2f ms, p99 %.2f → %.2f ms, ratio p99 %.2f (target ≤ 1.5); flooded endpoint held %d (waiting %d), refused %d, backend dials %d",
		len(base), len(flood), q(base, 0.5), q(flood, 0.5), q(base, 0.99), q(flood, 0.99), ratio,
		st.Connections, st.WaitingConnections, st.RefusedConnections, st.Backends[0].ConnectionsOpened)
	if ratio > 1.5 {
		b.Errorf("second endpoint's p99 under the flood is %.2fx its p99 without it (target ≤ 1.5)", ratio)
	}
}

// timeGETs times n GETs of /readyz, each on a new connection.
func timeGETs(b *testing.B, c *http.Client, addr string, n int) []time.Duration {
	out := make([]time.Duration, 0, n)
	for range n {
		start := time.Now()
		resp, err := c.Get("https://" + addr + "/readyz")
		if err != nil {
			b.Fatalf("GET through the second endpoint: %v", err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		_ = resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			b.Fatalf("GET through the second endpoint: %s", resp.Status)
		}
		out = append(out, time.Since(start))
	}
	return out
}

// openFlood opens floodConns connections to addr that send nothing, from
// several loopback source addresses. Connections the balancer refuses are
// opened all the same (the kernel completes the handshake before accept) and
// closed once refused.
func openFlood(b *testing.B, addr string) []net.Conn {
	var mu sync.Mutex
	conns := make([]net.Conn, 0, floodConns)
	sources := make([]*net.TCPAddr, 0, floodSources)
	for i := range byte(floodSources) {
		sources = append(sources, &net.TCPAddr{IP: net.IPv4(127, 0, 2, 1+i)})
	}
	var wg sync.WaitGroup
	for w := range floodDialers {
		wg.Go(func() {
			for i := w; i < floodConns; i += floodDialers {
				c, err := (&net.Dialer{LocalAddr: sources[i%floodSources], Timeout: 10 * time.Second}).Dial("tcp", addr)
				if err != nil {
					b.Errorf("flood connection %d: %v", i, err)
					return
				}
				mu.Lock()
				conns = append(conns, c)
				mu.Unlock()
				go closeOnEOF(c)
			}
		})
	}
	wg.Wait()
	if b.Failed() {
		closeAll(conns)
		b.FailNow()
	}
	return conns
}

// closeOnEOF closes c once the balancer closes its side.
func closeOnEOF(c net.Conn) {
	_, _ = c.Read(make([]byte, 1))
	_ = c.Close()
}

func closeAll(conns []net.Conn) {
	for _, c := range conns {
		_ = c.Close()
	}
}

// floodBalancer is a `cellplane lb` process with two endpoints.
type floodBalancer struct {
	status          string
	statusClient    *http.Client
	flooded, second string
}

func startLBProcess(ctx context.Context, b *testing.B, cert *floodCert, args []string, flooded, second string) *floodBalancer {
	dir := b.TempDir()
	ca := filepath.Join(dir, "ca.crt")
	if err := os.WriteFile(ca, cert.pem, 0o600); err != nil {
		b.Fatal(err)
	}
	for id, backend := range map[string]string{"flooded": flooded, "second": second} {
		c := lb.EndpointConfig{ID: id, Listen: "127.0.0.1:0", Backends: []lb.BackendConfig{{Name: id, Address: backend}},
			HealthCheck: lb.HealthCheckConfig{CAFile: ca}}
		if err := lb.WriteEndpointFile(dir, c); err != nil {
			b.Fatal(err)
		}
	}
	bal := &floodBalancer{status: freeLoopbackAddr(b)}
	statusPKI := statusFiles(b)
	hc, err := framework.StatusClientFor(statusPKI)
	if err != nil {
		b.Fatal(err)
	}
	bal.statusClient = hc
	p := func(n string) string { return filepath.Join(statusPKI, n) }
	cmd := exec.CommandContext(ctx, bins.Cellplane, append([]string{"lb", "--config-dir", dir, "--status-addr", bal.status,
		"--status-cert", p("lb-status.crt"), "--status-key", p("lb-status.key"), "--status-client-ca", p("ca.crt")}, args...)...)
	logf, err := os.Create(filepath.Join(b.TempDir(), "lb.log"))
	if err != nil {
		b.Fatal(err)
	}
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		_ = cmd.Wait()
		_ = logf.Close()
	})
	bal.flooded = bal.listening(ctx, b, "flooded")
	bal.second = bal.listening(ctx, b, "second")
	return bal
}

// statusFiles lays out a CA, the balancer's status certificate and a client
// certificate the way a cell store's pki directory holds them.
func statusFiles(b *testing.B) string {
	dir := b.TempDir()
	ca, _, err := pki.EnsureCA(dir, "ca", "bench CA")
	if err != nil {
		b.Fatal(err)
	}
	for name, req := range map[string]pki.CertRequest{
		"lb-status": {CommonName: "lb-status", IPs: []net.IP{net.IPv4(127, 0, 0, 1)}, Usage: pki.Server},
		"admin":     {CommonName: "cellplane", Usage: pki.Client},
	} {
		if _, err := pki.EnsurePair(dir, name, ca, req); err != nil {
			b.Fatal(err)
		}
	}
	return dir
}

func freeLoopbackAddr(b *testing.B) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	defer func() { _ = ln.Close() }()
	return ln.Addr().String()
}

func (f *floodBalancer) statuses(ctx context.Context) ([]lb.EndpointStatus, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "https://"+f.status+"/status", nil)
	if err != nil {
		return nil, err
	}
	resp, err := f.statusClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer func() { _ = resp.Body.Close() }()
	var eps []lb.EndpointStatus
	return eps, json.NewDecoder(resp.Body).Decode(&eps)
}

func (f *floodBalancer) endpoint(ctx context.Context, b *testing.B, id string) lb.EndpointStatus {
	eps, err := f.statuses(ctx)
	if err != nil {
		b.Fatal(err)
	}
	for _, ep := range eps {
		if ep.ID == id {
			return ep
		}
	}
	b.Fatalf("the balancer has no endpoint %s", id)
	return lb.EndpointStatus{}
}

// listening waits until endpoint id listens with a healthy backend and
// returns its address.
func (f *floodBalancer) listening(ctx context.Context, b *testing.B, id string) string {
	var addr string
	err := framework.Eventually(ctx, 30*time.Second, 50*time.Millisecond, func() error {
		eps, err := f.statuses(ctx)
		if err != nil {
			return err
		}
		for _, ep := range eps {
			if ep.ID == id && ep.Listening && len(ep.Backends) == 1 && ep.Backends[0].Healthy {
				addr = ep.Listen
				return nil
			}
		}
		return fmt.Errorf("endpoint %s not serving yet: %+v", id, eps)
	})
	if err != nil {
		b.Fatal(err)
	}
	return addr
}

// waitFlood waits until the balancer has taken in the whole flood: held or
// refused, every connection counted.
func (f *floodBalancer) waitFlood(ctx context.Context, b *testing.B, held int) {
	err := framework.Eventually(ctx, 2*time.Minute, 100*time.Millisecond, func() error {
		ep := f.endpoint(ctx, b, "flooded")
		if ep.WaitingConnections != held || int64(ep.Connections)+ep.RefusedConnections != floodConns {
			return fmt.Errorf("flooded endpoint holds %d (waiting %d) and refused %d of %d", ep.Connections, ep.WaitingConnections, ep.RefusedConnections, floodConns)
		}
		return nil
	})
	if err != nil {
		b.Fatal(err)
	}
}

// waitDrained waits until the balancer has closed its side of the flood.
func (f *floodBalancer) waitDrained(ctx context.Context, b *testing.B) {
	err := framework.Eventually(ctx, time.Minute, 100*time.Millisecond, func() error {
		if ep := f.endpoint(ctx, b, "flooded"); ep.Connections != 0 {
			return fmt.Errorf("flooded endpoint still holds %d connections", ep.Connections)
		}
		return nil
	})
	if err != nil {
		b.Fatal(err)
	}
}

// floodCert is a self-signed certificate for 127.0.0.1, the backends' serving
// certificate and the health checks' CA at once.
type floodCert struct {
	cert tls.Certificate
	pool *x509.CertPool
	pem  []byte
}

func newFloodCert(b *testing.B) *floodCert {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		b.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true,
		KeyUsage:    x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		b.Fatal(err)
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		b.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(leaf)
	return &floodCert{cert: tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}, pool: pool,
		pem: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})}
}

// startFloodBackend is an in-process HTTPS server answering /readyz.
func startFloodBackend(b *testing.B, cert *floodCert) string {
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		_, _ = io.WriteString(w, "ok")
	}))
	srv.TLS = &tls.Config{Certificates: []tls.Certificate{cert.cert}}
	srv.Config.ErrorLog = log.New(io.Discard, "", 0)
	srv.StartTLS()
	b.Cleanup(srv.Close)
	return srv.Listener.Addr().String()
}
