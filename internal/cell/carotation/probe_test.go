package carotation

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"

	"github.com/cellplane/cellplane/internal/controlplane"
	"github.com/cellplane/cellplane/internal/pki"
)

// apiServerLike answers /version as kube-apiserver does: anonymous requests
// are allowed, a client certificate it cannot verify is refused with 401. It
// hints only the CAs it trusts in its certificate request, as kube-apiserver
// does with its client CA bundle.
func apiServerLike(t *testing.T, trusted *pki.CA) (*httptest.Server, *x509.CertPool) {
	t.Helper()
	serving, err := pki.NewCA("serving")
	if err != nil {
		t.Fatal(err)
	}
	certPEM, keyPEM, err := serving.Issue(pki.CertRequest{CommonName: "kube-apiserver", IPs: []net.IP{net.IPv4(127, 0, 0, 1)}, Usage: pki.Server})
	if err != nil {
		t.Fatal(err)
	}
	cert, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		t.Fatal(err)
	}
	clientCAs := x509.NewCertPool()
	clientCAs.AddCert(trusted.Cert)
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if len(r.TLS.PeerCertificates) > 0 {
			if _, err := r.TLS.PeerCertificates[0].Verify(x509.VerifyOptions{Roots: clientCAs, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}); err != nil {
				w.WriteHeader(http.StatusUnauthorized)
				return
			}
		}
		_, _ = w.Write([]byte(`{"gitVersion":"v1.35.4"}`))
	}))
	srv.TLS = &tls.Config{Certificates: []tls.Certificate{cert}, ClientAuth: tls.RequestClientCert, ClientCAs: clientCAs}
	srv.StartTLS()
	t.Cleanup(srv.Close)
	roots := x509.NewCertPool()
	roots.AddCert(serving.Cert)
	return srv, roots
}

func TestProbeTellsTrustedFromDropped(t *testing.T) {
	trusted, err := pki.NewCA("trusted")
	if err != nil {
		t.Fatal(err)
	}
	dropped, err := pki.NewCA("dropped")
	if err != nil {
		t.Fatal(err)
	}
	srv, roots := apiServerLike(t, trusted)
	host, port, err := net.SplitHostPort(srv.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	n, _ := strconv.Atoi(port)
	m := controlplane.Member{Kind: controlplane.KindAPIServer, Zone: "a", IP: net.ParseIP(host), Port: n}
	for _, tt := range []struct {
		name string
		ca   *pki.CA
		want bool
	}{{"trusted", trusted, true}, {"dropped", dropped, false}} {
		hc, err := probeClient(tt.ca, roots)
		if err != nil {
			t.Fatal(err)
		}
		got, err := accepts(context.Background(), hc, m)
		if err != nil || got != tt.want {
			t.Errorf("%s CA: accepted %v (%v), want %v", tt.name, got, err, tt.want)
		}
		hc.CloseIdleConnections()
	}
}
