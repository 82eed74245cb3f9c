// Package dex starts real dex servers (github.com/dexidp/dex, built once into
// the component cache) as OIDC issuers for tests: each on its own loopback
// address, serving HTTPS with a certificate of a test CA made for it, with
// one static client and one static user whose ID token the password grant
// hands out. It ends the process by PID when the test cleans up.
package dex

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/cellplane/cellplane/internal/components"
	"github.com/cellplane/cellplane/internal/poll"
)

var (
	binsOnce sync.Once
	bins     components.DexBinaries
	binsErr  error
)

// Binaries returns the cached dex server, building it on first use on the
// machine (about a minute; hack/test.sh builds it beforehand with --with-dex).
func Binaries(ctx context.Context) (components.DexBinaries, error) {
	binsOnce.Do(func() {
		bins, binsErr = components.New(components.Config{Progress: os.Stderr}).Dex(ctx)
	})
	return bins, binsErr
}

// The static client and user every server has. The hash is dex's own
// example (config.dev.yaml) for the password "password".
const (
	ClientID     = "cellplane-test"
	clientSecret = "cellplane-test-secret"
	UserEmail    = "jane@example.test"
	UserName     = "jane"
	Password     = "password"
	passwordHash = "$2a$10$2b2cU8CPhOTaGrs1HRQuAueS7JTT5ZHsHSzYiFPm1leZck7Mc8T4W" //nolint:gosec // G101: dex's published example hash of a test password, for a throwaway issuer
	// Group is the one group the user is in, in the ID token's groups claim.
	Group = "team-a"
)

// next numbers the servers of a test binary: each gets its own address in
// 127.232.0.0/16, the third octet from the process ID.
var next atomic.Int32

// Server is one `dex serve` under test.
type Server struct {
	T testing.TB
	// Issuer is the https URL the ID tokens name as iss.
	Issuer string
	// CAPEM is the test CA that signed the server's certificate.
	CAPEM []byte

	dir  string
	cmd  *exec.Cmd
	done chan struct{}
	http *http.Client
}

// Start starts dex, waits until its discovery document is served over TLS
// and registers a cleanup that ends the process by PID.
func Start(t testing.TB, b components.DexBinaries) *Server {
	t.Helper()
	n := next.Add(1)
	ip := fmt.Sprintf("127.232.%d.%d", os.Getpid()%256, 1+(n-1)%254)
	s := &Server{T: t, Issuer: "https://" + ip + ":5556/dex", dir: t.TempDir(), done: make(chan struct{})}
	if err := s.writeFiles(ip); err != nil {
		t.Fatalf("preparing dex: %v", err)
	}
	if err := s.start(b); err != nil {
		t.Fatalf("starting dex: %v", err)
	}
	t.Cleanup(s.stop)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := s.waitReady(ctx); err != nil {
		t.Fatalf("dex did not become ready: %v\n%s", err, s.Log())
	}
	return s
}

func (s *Server) writeFiles(ip string) error {
	caPEM, certPEM, keyPEM, err := testCA(net.ParseIP(ip))
	if err != nil {
		return err
	}
	s.CAPEM = caPEM
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(caPEM)
	s.http = &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}}}
	cert, key := filepath.Join(s.dir, "tls.crt"), filepath.Join(s.dir, "tls.key")
	if err := os.WriteFile(cert, certPEM, 0o600); err != nil {
		return err
	}
	if err := os.WriteFile(key, keyPEM, 0o600); err != nil {
		return err
	}
	cfg := map[string]any{
		"issuer":  s.Issuer,
		"storage": map[string]any{"type": "memory"},
		"web":     map[string]any{"https": ip + ":5556", "tlsCert": cert, "tlsKey": key},
		"oauth2":  map[string]any{"passwordConnector": "local", "skipApprovalScreen": true},
		"logger":  map[string]any{"level": "info"},
		"staticClients": []any{map[string]any{
			"id": ClientID, "secret": clientSecret, "name": "cellplane test",
			"redirectURIs": []string{"http://127.0.0.1:5555/callback"},
		}},
		"enablePasswordDB": true,
		"staticPasswords": []any{map[string]any{
			"email": UserEmail, "hash": passwordHash, "username": UserName,
			"userID": "08a8684b-db88-4b73-90a9-3cd1661f5466", "groups": []string{Group},
		}},
	}
	data, err := json.Marshal(cfg) // JSON is YAML: dex reads either
	if err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(s.dir, "config.yaml"), data, 0o600)
}

func (s *Server) start(b components.DexBinaries) error {
	log, err := os.Create(filepath.Join(s.dir, "dex.log"))
	if err != nil {
		return err
	}
	defer log.Close() //nolint:errcheck // the child has its own copy
	s.cmd = exec.Command(b.Dex, "serve", filepath.Join(s.dir, "config.yaml"))
	s.cmd.Stdout, s.cmd.Stderr = log, log
	if err := s.cmd.Start(); err != nil {
		return err
	}
	go func() { _ = s.cmd.Wait(); close(s.done) }()
	return nil
}

func (s *Server) waitReady(ctx context.Context) error {
	return poll.Until(ctx, time.Minute, 100*time.Millisecond, func() error {
		select {
		case <-s.done:
			return poll.Permanent(fmt.Errorf("dex exited: %v", s.cmd.ProcessState))
		default:
		}
		resp, err := s.http.Get(s.Issuer + "/.well-known/openid-configuration")
		if err != nil {
			return err
		}
		defer resp.Body.Close() //nolint:errcheck // the status is what counts
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("discovery answered %s", resp.Status)
		}
		return nil
	})
}

// IDToken signs the static user in with the password grant and returns the
// ID token dex issues, for the static client, with email and groups.
func (s *Server) IDToken(ctx context.Context) (string, error) {
	form := url.Values{
		"grant_type": {"password"}, "username": {UserEmail}, "password": {Password},
		"scope": {"openid email groups profile"},
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.Issuer+"/token", strings.NewReader(form.Encode()))
	if err != nil {
		return "", err
	}
	req.SetBasicAuth(ClientID, clientSecret)
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := s.http.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close() //nolint:errcheck // read below
	body, _ := io.ReadAll(resp.Body)
	var out struct {
		IDToken string `json:"id_token"`
	}
	if resp.StatusCode != http.StatusOK || json.Unmarshal(body, &out) != nil || out.IDToken == "" {
		return "", fmt.Errorf("password grant answered %s: %s", resp.Status, body)
	}
	return out.IDToken, nil
}

// PID is the server's process ID.
func (s *Server) PID() int { return s.cmd.Process.Pid }

// Log returns what the server printed.
func (s *Server) Log() string {
	b, err := os.ReadFile(filepath.Join(s.dir, "dex.log"))
	if err != nil {
		return fmt.Sprintf("(reading the dex log: %v)", err)
	}
	return string(b)
}

// stop ends the server by PID: SIGTERM, then SIGKILL after a grace period.
func (s *Server) stop() {
	select {
	case <-s.done:
		return
	default:
	}
	_ = s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.done:
		return
	case <-time.After(10 * time.Second):
	}
	_ = s.cmd.Process.Kill()
	select {
	case <-s.done:
	case <-time.After(30 * time.Second):
		s.T.Errorf("dex (PID %d) did not exit after SIGKILL", s.PID())
	}
}

// testCA makes a CA and a serving certificate for ip signed by it.
func testCA(ip net.IP) (caPEM, certPEM, keyPEM []byte, err error) {
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, nil, err
	}
	now := time.Now()
	ca := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "cellplane test issuer CA"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour), IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature}
	caDER, err := x509.CreateCertificate(rand.Reader, ca, ca, &caKey.PublicKey, caKey)
	if err != nil {
		return nil, nil, nil, err
	}
	caCert, err := x509.ParseCertificate(caDER)
	if err != nil {
		return nil, nil, nil, err
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, nil, err
	}
	leaf := &x509.Certificate{SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: ip.String()}, IPAddresses: []net.IP{ip},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	der, err := x509.CreateCertificate(rand.Reader, leaf, caCert, &key.PublicKey, caKey)
	if err != nil {
		return nil, nil, nil, err
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return nil, nil, nil, err
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER}),
		pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER}), nil
}
