package lb

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cellplane/cellplane/internal/pki"
)

// statusPKI is a status server's files and what its clients hold.
type statusPKI struct {
	files      StatusTLS
	client     *http.Client // holds a certificate of the client CA
	stranger   *http.Client // trusts the server, holds another CA's certificate
	anonymous  *http.Client // trusts the server, holds no certificate
	serverPool *x509.CertPool
}

func newStatusPKI(t testing.TB) *statusPKI {
	t.Helper()
	dir := t.TempDir()
	ca, err := pki.NewCA("status test CA")
	if err != nil {
		t.Fatal(err)
	}
	other, err := pki.NewCA("another CA")
	if err != nil {
		t.Fatal(err)
	}
	write := func(name string, data []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, data, 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	certPEM, keyPEM := issue(t, ca, pki.CertRequest{CommonName: "lb-status", IPs: []net.IP{net.IPv4(127, 0, 0, 1)}, Usage: pki.Server})
	s := &statusPKI{files: StatusTLS{CertFile: write("status.crt", certPEM), KeyFile: write("status.key", keyPEM),
		ClientCAFile: write("ca.crt", ca.CertPEM)}}
	s.serverPool = x509.NewCertPool()
	s.serverPool.AppendCertsFromPEM(ca.CertPEM)
	s.client = s.httpClient(t, ca)
	s.stranger = s.httpClient(t, other)
	s.anonymous = s.httpClient(t, nil)
	return s
}

func issue(t testing.TB, ca *pki.CA, req pki.CertRequest) (certPEM, keyPEM []byte) {
	t.Helper()
	certPEM, keyPEM, err := ca.Issue(req)
	if err != nil {
		t.Fatal(err)
	}
	return certPEM, keyPEM
}

func (s *statusPKI) httpClient(t testing.TB, ca *pki.CA) *http.Client {
	cfg := &tls.Config{RootCAs: s.serverPool, MinVersion: tls.VersionTLS12}
	if ca != nil {
		certPEM, keyPEM := issue(t, ca, pki.CertRequest{CommonName: "cellplane", Usage: pki.Client})
		pair, err := tls.X509KeyPair(certPEM, keyPEM)
		if err != nil {
			t.Fatal(err)
		}
		cfg.Certificates = []tls.Certificate{pair}
	}
	tr := &http.Transport{TLSClientConfig: cfg}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr}
}

// TestStatusServesOnlyMutualTLS attacks the status server as a tenant process
// on the machine would: in the clear, over TLS without a certificate, and with
// a certificate of another CA. Only the service's own clients get the status.
func TestStatusServesOnlyMutualTLS(t *testing.T) {
	h := newHarness(t)
	url := "https://" + h.lb.StatusAddr() + "/healthz"
	if _, err := h.status.client.Get(url); err != nil {
		t.Fatalf("the service's own client: %v", err)
	}
	for name, c := range map[string]*http.Client{"no certificate": h.status.anonymous, "another CA": h.status.stranger} {
		if resp, err := c.Get(url); err == nil {
			_ = resp.Body.Close()
			t.Errorf("%s: got %s, want the handshake refused", name, resp.Status)
		}
	}
	resp, err := http.Get("http://" + h.lb.StatusAddr() + "/status")
	if err == nil {
		defer resp.Body.Close()
		if resp.StatusCode == http.StatusOK {
			t.Errorf("plain HTTP got %s", resp.Status)
		}
	}
}

func TestStatusAddrRequiresTLSFiles(t *testing.T) {
	dir := t.TempDir()
	for name, st := range map[string]StatusTLS{
		"none":          {},
		"no client CA":  {CertFile: "a", KeyFile: "b"},
		"missing files": {CertFile: filepath.Join(dir, "x.crt"), KeyFile: filepath.Join(dir, "x.key"), ClientCAFile: filepath.Join(dir, "ca.crt")},
	} {
		c := Config{ConfigDir: dir, StatusAddr: "127.0.0.1:0", StatusTLS: st}
		err := c.Validate()
		if !errors.Is(err, ErrInvalidConfig) {
			t.Errorf("%s: Validate() = %v, want ErrInvalidConfig", name, err)
		}
		if err != nil && !strings.Contains(err.Error(), "status") {
			t.Errorf("%s: error %q does not name the status server", name, err)
		}
	}
}
