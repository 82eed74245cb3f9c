package pki

import (
	"crypto/tls"
	"crypto/x509"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"os"
	"testing"
)

// TestEnsureClusterHandshake serves real mutual TLS with the issued pairs, as
// the API server and etcd will, to catch what field-by-field checks miss.
func TestEnsureClusterHandshake(t *testing.T) {
	f := mustCluster(t, t.TempDir(), testSpec())
	tests := []struct {
		name       string
		server     Pair
		serverCA   string // trusted by the client
		client     Pair
		clientCA   string // trusted by the server
		serverName string
		wantCN     string // empty: the handshake must fail
	}{
		{"admin to apiserver by service name", f.APIServer["api-a"], f.CA, f.Admin, f.CA,
			"kubernetes.default.svc", "cellplane-admin"},
		{"admin to apiserver by load balancer IP", f.APIServer["api-b"], f.CA, f.Admin, f.CA,
			"127.100.0.10", "cellplane-admin"},
		{"apiserver to etcd", f.EtcdServer["etcd-a"], f.EtcdCA, f.APIServerEtcdClient, f.EtcdCA,
			"127.0.0.1", "kube-apiserver-etcd-client"},
		{"etcd peer to peer", f.EtcdPeer["etcd-b"], f.EtcdCA, f.EtcdPeer["etcd-a"], f.EtcdCA,
			"127.100.16.2", "etcd-a"},
		{"admin to etcd is refused", f.EtcdServer["etcd-a"], f.EtcdCA, f.Admin, f.EtcdCA, "127.0.0.1", ""},
		{"server-only cert cannot be a client", f.APIServer["api-a"], f.CA, f.APIServer["api-b"], f.CA, "127.0.0.1", ""},
		{"name not in SANs", f.APIServer["api-a"], f.CA, f.Admin, f.CA, "other.example.com", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			url := serveMTLS(t, tt.server, tt.clientCA)
			cn, err := getCN(t, url, tt.client, tt.serverCA, tt.serverName)
			if tt.wantCN == "" && err == nil {
				t.Fatalf("handshake succeeded as %q, want failure", cn)
			}
			if tt.wantCN != "" && (err != nil || cn != tt.wantCN) {
				t.Fatalf("got CN %q, err %v; want CN %q", cn, err, tt.wantCN)
			}
		})
	}
}

// serveMTLS starts a server that requires client certificates from clientCA
// and answers with the client's common name.
func serveMTLS(t *testing.T, p Pair, clientCA string) string {
	t.Helper()
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// A short write shows up as a wrong answer at the client.
		_, _ = io.WriteString(w, r.TLS.PeerCertificates[0].Subject.CommonName) //nolint:gosec // G705: echoes the test client's own certificate name to it
	}))
	srv.TLS = &tls.Config{
		Certificates: []tls.Certificate{loadPair(t, p)},
		ClientAuth:   tls.RequireAndVerifyClientCert,
		ClientCAs:    certPool(t, clientCA),
	}
	srv.Config.ErrorLog = log.New(io.Discard, "", 0) // failed handshakes are expected
	srv.StartTLS()
	t.Cleanup(srv.Close)
	return srv.URL
}

func getCN(t *testing.T, url string, p Pair, serverCA, serverName string) (string, error) {
	t.Helper()
	tr := &http.Transport{TLSClientConfig: &tls.Config{
		Certificates: []tls.Certificate{loadPair(t, p)},
		RootCAs:      certPool(t, serverCA),
		ServerName:   serverName,
	}}
	defer tr.CloseIdleConnections()
	resp, err := (&http.Client{Transport: tr}).Get(url)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	return string(body), err
}

func loadPair(t *testing.T, p Pair) tls.Certificate {
	t.Helper()
	pair, err := tls.LoadX509KeyPair(p.Cert, p.Key)
	if err != nil {
		t.Fatal(err)
	}
	return pair
}

func certPool(t *testing.T, caFile string) *x509.CertPool {
	t.Helper()
	data, err := os.ReadFile(caFile)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(data) {
		t.Fatalf("no certificates in %s", caFile)
	}
	return pool
}
