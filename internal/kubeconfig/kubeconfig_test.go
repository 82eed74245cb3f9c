package kubeconfig

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"

	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/cellplane/cellplane/internal/pki"
)

// creds are a CA and a client pair, both as PEM and as files.
type creds struct {
	ca                        *pki.CA
	caFile, certFile, keyFile string
	caData, certData, keyData []byte
	serverCert                tls.Certificate
}

func newCreds(t *testing.T) creds {
	t.Helper()
	ca, err := pki.NewCA("test-ca")
	if err != nil {
		t.Fatal(err)
	}
	c := creds{ca: ca, caData: ca.CertPEM, caFile: filepath.Join(t.TempDir(), "ca.crt")}
	c.certData, c.keyData = issue(t, ca, pki.CertRequest{CommonName: "cellplane-admin", Usage: pki.Client})
	dir := t.TempDir()
	c.certFile, c.keyFile = filepath.Join(dir, "admin.crt"), filepath.Join(dir, "admin.key")
	for path, data := range map[string][]byte{c.caFile: c.caData, c.certFile: c.certData, c.keyFile: c.keyData} {
		if err := pki.WriteFileAtomic(path, data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	serverPEM, serverKey := issue(t, ca, pki.CertRequest{
		CommonName: "kube-apiserver", IPs: []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback}, Usage: pki.Server,
	})
	if c.serverCert, err = tls.X509KeyPair(serverPEM, serverKey); err != nil {
		t.Fatal(err)
	}
	return c
}

func issue(t *testing.T, ca *pki.CA, req pki.CertRequest) (certPEM, keyPEM []byte) {
	t.Helper()
	certPEM, keyPEM, err := ca.Issue(req)
	if err != nil {
		t.Fatal(err)
	}
	return certPEM, keyPEM
}

func TestWriteRoundTrip(t *testing.T) {
	c := newCreds(t)
	files := Options{CAFile: c.caFile, CertFile: c.certFile, KeyFile: c.keyFile}
	data := Options{CAData: c.caData, CertData: c.certData, KeyData: c.keyData}
	both := Options{CAFile: "/nonexistent/ca.crt", CAData: c.caData, CertFile: "/nonexistent/admin.crt",
		CertData: c.certData, KeyFile: "/nonexistent/admin.key", KeyData: c.keyData}
	tests := []struct {
		name     string
		opts     Options
		wantTLS  rest.TLSClientConfig
		wantUser string
	}{
		{"files", files, rest.TLSClientConfig{CAFile: c.caFile, CertFile: c.certFile, KeyFile: c.keyFile}, "demo"},
		{"data", data, rest.TLSClientConfig{CAData: c.caData, CertData: c.certData, KeyData: c.keyData}, "demo"},
		{"data wins over files", both, rest.TLSClientConfig{CAData: c.caData, CertData: c.certData, KeyData: c.keyData}, "demo"},
		{"named user", withUser(files, "admin"), rest.TLSClientConfig{CAFile: c.caFile, CertFile: c.certFile, KeyFile: c.keyFile}, "admin"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			url := serve(t, c)
			tt.opts.ClusterName, tt.opts.Server = "demo", url
			path := filepath.Join(t.TempDir(), "kube", "admin.conf")
			if err := Write(path, tt.opts); err != nil {
				t.Fatal(err)
			}
			assertMode(t, path, 0o600)
			cfg := load(t, path, tt.wantUser)
			if cfg.Host != url {
				t.Errorf("host %q, want %q", cfg.Host, url)
			}
			assertTLS(t, cfg.TLSClientConfig, tt.wantTLS)
			if cn := get(t, cfg); cn != "cellplane-admin" {
				t.Errorf("server saw client %q, want cellplane-admin", cn)
			}
		})
	}
}

func TestMarshalInvalid(t *testing.T) {
	for _, o := range []Options{{Server: "https://x"}, {ClusterName: "demo"}} {
		if _, err := Marshal(o); !errors.Is(err, ErrInvalidOptions) {
			t.Errorf("Marshal(%+v) err = %v, want ErrInvalidOptions", o, err)
		}
	}
	if err := Write(filepath.Join(t.TempDir(), "x"), Options{}); !errors.Is(err, ErrInvalidOptions) {
		t.Errorf("Write err = %v, want ErrInvalidOptions", err)
	}
}

func withUser(o Options, user string) Options {
	o.User = user
	return o
}

// load reads path back the way kubectl does and checks its single context.
func load(t *testing.T, path, wantUser string) *rest.Config {
	t.Helper()
	raw, err := clientcmd.LoadFromFile(path)
	if err != nil {
		t.Fatal(err)
	}
	ctx, ok := raw.Contexts[raw.CurrentContext]
	if raw.CurrentContext != "demo" || !ok || ctx.Cluster != "demo" || ctx.AuthInfo != wantUser {
		t.Fatalf("current context %q = %+v, want demo with user %q", raw.CurrentContext, ctx, wantUser)
	}
	cfg, err := clientcmd.NewDefaultClientConfig(*raw, &clientcmd.ConfigOverrides{}).ClientConfig()
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

func assertTLS(t *testing.T, got, want rest.TLSClientConfig) {
	t.Helper()
	if got.CAFile != want.CAFile || got.CertFile != want.CertFile || got.KeyFile != want.KeyFile {
		t.Errorf("TLS files %q %q %q, want %q %q %q", got.CAFile, got.CertFile, got.KeyFile, want.CAFile, want.CertFile, want.KeyFile)
	}
	if !bytes.Equal(got.CAData, want.CAData) || !bytes.Equal(got.CertData, want.CertData) || !bytes.Equal(got.KeyData, want.KeyData) {
		t.Error("TLS data differs from what was written")
	}
}

// serve starts an API-server stand-in that requires a client certificate from
// c's CA and answers with the client's common name.
func serve(t *testing.T, c creds) string {
	t.Helper()
	pool := x509.NewCertPool()
	pool.AddCert(c.ca.Cert)
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// A short write shows up as a wrong answer at the client.
		_, _ = io.WriteString(w, r.TLS.PeerCertificates[0].Subject.CommonName) //nolint:gosec // G705: echoes the test client's own certificate name to it
	}))
	srv.TLS = &tls.Config{Certificates: []tls.Certificate{c.serverCert}, ClientAuth: tls.RequireAndVerifyClientCert, ClientCAs: pool}
	srv.StartTLS()
	t.Cleanup(srv.Close)
	return srv.URL
}

// get calls the server the way client-go would with cfg and returns the
// name the server saw.
func get(t *testing.T, cfg *rest.Config) string {
	t.Helper()
	client, err := rest.HTTPClientFor(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer client.CloseIdleConnections()
	resp, err := client.Get(cfg.Host)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(body)
}

func assertMode(t *testing.T, path string, want os.FileMode) {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if got := fi.Mode().Perm(); got != want {
		t.Errorf("%s mode %o, want %o", path, got, want)
	}
}
