package lb

import (
	"bufio"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"log"
	"log/slog"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cellplane/cellplane/internal/poll"
)

// Test timings: fast enough that health changes show within a second.
const (
	testInterval = 100 * time.Millisecond
	testTimeout  = 500 * time.Millisecond
	testFall     = 2
	waitTimeout  = 10 * time.Second
	pollInterval = 10 * time.Millisecond
)

// testCert is a self-signed certificate for 127.0.0.1 that is both the
// "cluster CA" written as caFile and every fake kube-apiserver's serving cert.
type testCert struct {
	cert tls.Certificate
	pool *x509.CertPool
	pem  []byte
}

var sharedCert = sync.OnceValues(newTestCert)

func newTestCert() (*testCert, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "kube-apiserver"},
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1)},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, err
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	pool.AddCert(leaf)
	return &testCert{
		cert: tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf},
		pool: pool,
		pem:  pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
	}, nil
}

func mustCert(t testing.TB) *testCert {
	t.Helper()
	c, err := sharedCert()
	if err != nil {
		t.Fatalf("generating test certificate: %v", err)
	}
	return c
}

// fakeAPIServer stands in for a kube-apiserver: /readyz answers 200 unless
// told otherwise, /echo returns the request body, and anything else returns
// the server's name so tests see where a connection landed.
type fakeAPIServer struct {
	name     string
	srv      *httptest.Server
	notReady atomic.Bool
	hits     atomic.Int64
	checks   atomic.Int64
}

func startFakeAPIServer(t testing.TB, name string) *fakeAPIServer {
	t.Helper()
	f := &fakeAPIServer{name: name}
	f.srv = httptest.NewUnstartedServer(http.HandlerFunc(f.serveHTTP))
	f.srv.TLS = &tls.Config{Certificates: []tls.Certificate{mustCert(t).cert}}
	// Plain TCP probes from the tests end in handshake EOFs not worth logging.
	f.srv.Config.ErrorLog = log.New(io.Discard, "", 0)
	f.srv.StartTLS()
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fakeAPIServer) serveHTTP(w http.ResponseWriter, r *http.Request) {
	switch r.URL.Path {
	case "/readyz":
		f.checks.Add(1)
		if f.notReady.Load() {
			http.Error(w, "not ready", http.StatusInternalServerError)
			return
		}
		_, _ = io.WriteString(w, "ok")
	case "/echo":
		_, _ = io.Copy(w, r.Body)
	default:
		f.hits.Add(1)
		_, _ = io.WriteString(w, f.name)
	}
}

func (f *fakeAPIServer) addr() string { return f.srv.Listener.Addr().String() }

// stop closes the listener only, as a crashed process would leave no
// listener; established connections are the test's to close.
func (f *fakeAPIServer) stop() { _ = f.srv.Listener.Close() }

// harness runs a Balancer in-process over a temporary config directory.
type harness struct {
	t     testing.TB
	dir   string
	caDir string
	lb    *Balancer
	// status is the status server's mutual TLS and its clients.
	status *statusPKI
}

func newHarness(t testing.TB) *harness {
	t.Helper()
	return newHarnessWith(t, func(*Config) {})
}

// newHarnessWith is newHarness with the Balancer's Config changed by edit.
func newHarnessWith(t testing.TB, edit func(*Config)) *harness {
	t.Helper()
	h := &harness{t: t, dir: t.TempDir(), caDir: t.TempDir(), status: newStatusPKI(t)}
	if err := os.WriteFile(h.caFile(), mustCert(t).pem, 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := Config{ConfigDir: h.dir, StatusAddr: "127.0.0.1:0", StatusTLS: h.status.files, ReloadInterval: 20 * time.Millisecond, Logger: testLogger(t)}
	edit(&cfg)
	b, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	h.lb = b
	t.Cleanup(func() {
		if err := b.Close(); err != nil {
			t.Errorf("closing balancer: %v", err)
		}
		checkNoLeaks(t)
	})
	return h
}

func testLogger(t testing.TB) *slog.Logger {
	if _, ok := t.(*testing.B); ok {
		return nil
	}
	return slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelDebug}))
}

func (h *harness) caFile() string { return filepath.Join(h.caDir, "ca.crt") }

// endpointConfig builds a config with test timings; listen defaults to a
// kernel-chosen port, read back from Status.
func (h *harness) endpointConfig(id string, backends ...*fakeAPIServer) EndpointConfig {
	c := EndpointConfig{ID: id, Listen: "127.0.0.1:0", HealthCheck: HealthCheckConfig{
		CAFile:         h.caFile(),
		IntervalMillis: int(testInterval.Milliseconds()),
		TimeoutMillis:  int(testTimeout.Milliseconds()),
		FallCount:      testFall,
		RiseCount:      1,
	}}
	for _, b := range backends {
		c.Backends = append(c.Backends, BackendConfig{Name: b.name, Address: b.addr()})
	}
	return c
}

func (h *harness) write(c EndpointConfig) {
	h.t.Helper()
	if err := WriteEndpointFile(h.dir, c); err != nil {
		h.t.Fatal(err)
	}
}

func (h *harness) writeRaw(name, content string) {
	h.t.Helper()
	if err := os.WriteFile(filepath.Join(h.dir, name), []byte(content), 0o600); err != nil {
		h.t.Fatal(err)
	}
}

func (h *harness) endpoint(id string) (EndpointStatus, bool) {
	for _, st := range h.lb.Status() {
		if st.ID == id {
			return st, true
		}
	}
	return EndpointStatus{}, false
}

func (h *harness) backend(id, name string) BackendStatus {
	st, _ := h.endpoint(id)
	for _, b := range st.Backends {
		if b.Name == name {
			return b
		}
	}
	return BackendStatus{}
}

// waitListening waits for endpoint id to listen and returns its address.
func (h *harness) waitListening(id string) string {
	h.t.Helper()
	var addr string
	eventually(h.t, "endpoint "+id+" listening", func() bool {
		st, _ := h.endpoint(id)
		addr = st.Listen
		return st.Listening
	})
	return addr
}

func (h *harness) waitState(id, backend string, want HealthState) {
	h.t.Helper()
	eventually(h.t, fmt.Sprintf("%s/%s %s", id, backend, want), func() bool {
		return h.backend(id, backend).State == want
	})
}

// eventually polls cond until it holds, failing the test after waitTimeout: a
// deadline long enough for a busy two-core machine under -race, so tests wait on
// the event itself rather than assert how soon it came.
func eventually(t testing.TB, what string, cond func() bool) {
	t.Helper()
	err := poll.Until(context.Background(), waitTimeout, pollInterval, func() error {
		if cond() {
			return nil
		}
		return errors.New(what + " not yet")
	})
	if err != nil {
		t.Fatalf("waiting for %s: %v", what, err)
	}
}

// client makes one request per fresh connection, as new clients would.
func newClient(t testing.TB) *http.Client {
	tr := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: mustCert(t).pool}, DisableKeepAlives: true}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr, Timeout: 5 * time.Second}
}

func get(c *http.Client, addr, path string) (string, error) {
	resp, err := c.Get("https://" + addr + path)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return "", err
	}
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("status %s", resp.Status)
	}
	return string(body), nil
}

// heldConn is a kept-alive client connection through the balancer, to pin
// load on one backend.
type heldConn struct {
	conn *tls.Conn
	br   *bufio.Reader
}

func openHeld(t testing.TB, addr string) (*heldConn, string) {
	t.Helper()
	conn, err := tls.Dial("tcp", addr, &tls.Config{RootCAs: mustCert(t).pool})
	if err != nil {
		t.Fatalf("dialling %s: %v", addr, err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	hc := &heldConn{conn: conn, br: bufio.NewReader(conn)}
	name, err := hc.get()
	if err != nil {
		t.Fatalf("first request on held connection: %v", err)
	}
	return hc, name
}

func (hc *heldConn) get() (string, error) {
	_ = hc.conn.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.WriteString(hc.conn, "GET / HTTP/1.1\r\nHost: kube\r\n\r\n"); err != nil {
		return "", err
	}
	resp, err := http.ReadResponse(hc.br, nil)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	return string(body), err
}

// checkNoLeaks fails when goroutines running this package's non-test code
// outlive Close.
func checkNoLeaks(t testing.TB) {
	t.Helper()
	err := poll.Until(context.Background(), waitTimeout, pollInterval, func() error {
		if leaked := lbGoroutines(); leaked != "" {
			return fmt.Errorf("goroutines leaked after Close:\n%s", leaked)
		}
		return nil
	})
	if err != nil {
		t.Error(err)
	}
}

func lbGoroutines() string {
	buf := make([]byte, 1<<20)
	buf = buf[:runtime.Stack(buf, true)]
	var leaked []string
	for _, g := range strings.Split(string(buf), "\n\n") {
		if runsPackageCode(g) {
			leaked = append(leaked, g)
		}
	}
	return strings.Join(leaked, "\n\n")
}

func runsPackageCode(stack string) bool {
	for _, line := range strings.Split(stack, "\n") {
		if strings.Contains(line, "/internal/lb/") && !strings.Contains(line, "_test.go:") {
			return true
		}
	}
	return false
}
