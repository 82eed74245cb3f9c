package carotation

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"time"

	"github.com/cellplane/cellplane/internal/controlplane"
	"github.com/cellplane/cellplane/internal/pki"
)

// Prober tells what the running API servers make of a CA.
type Prober interface {
	// Accepts reports, per API server, whether it accepts a client
	// certificate signed by ca: true, false, or an error when it cannot tell.
	Accepts(ctx context.Context, p *controlplane.Plan, ca *pki.CA) (map[string]bool, error)
	// Serves reports, per API server, whether it serves a certificate signed by ca.
	Serves(ctx context.Context, p *controlplane.Plan, ca *pki.CA) (map[string]bool, error)
}

// probeTimeout bounds one probe of one API server.
const probeTimeout = 3 * time.Second

// probeUser is who a CA's probe certificate names; it needs no permission,
// as /version answers every authenticated user.
var probeUser = pki.CertRequest{CommonName: "cellplane:ca-probe", Usage: pki.Client, Validity: 10 * time.Minute}

// TLSProber probes the API servers over TLS, directly at their addresses.
type TLSProber struct{}

// Accepts asks each API server's /version with a certificate signed by ca:
// 200 means it authenticated the certificate, 401 that it does not trust ca.
func (TLSProber) Accepts(ctx context.Context, p *controlplane.Plan, ca *pki.CA) (map[string]bool, error) {
	roots, err := bundlePool(p)
	if err != nil {
		return nil, err
	}
	hc, err := probeClient(ca, roots)
	if err != nil {
		return nil, err
	}
	defer hc.CloseIdleConnections()
	out := map[string]bool{}
	for _, m := range p.Members(controlplane.KindAPIServer) {
		ok, err := accepts(ctx, hc, m)
		if err != nil {
			return nil, err
		}
		out[m.Name()] = ok
	}
	return out, nil
}

// probeClient is an HTTPS client trusting roots that presents a fresh
// certificate signed by ca.
func probeClient(ca *pki.CA, roots *x509.CertPool) (*http.Client, error) {
	certPEM, keyPEM, err := ca.Issue(probeUser)
	if err != nil {
		return nil, fmt.Errorf("issuing probe certificate: %w", err)
	}
	cert, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		return nil, fmt.Errorf("loading probe certificate: %w", err)
	}
	// GetClientCertificate rather than Certificates: given Certificates, Go
	// sends none whose issuer the server does not list among the CAs it
	// accepts, and the probe of a CA the API server dropped would pass as
	// an anonymous request.
	send := func(*tls.CertificateRequestInfo) (*tls.Certificate, error) { return &cert, nil }
	tr := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: roots, GetClientCertificate: send, MinVersion: tls.VersionTLS12}}
	return &http.Client{Transport: tr, Timeout: probeTimeout}, nil
}

func accepts(ctx context.Context, hc *http.Client, m controlplane.Member) (bool, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "https://"+m.Address()+"/version", nil)
	if err != nil {
		return false, err
	}
	resp, err := hc.Do(req)
	if err != nil {
		return false, fmt.Errorf("probing %s: %w", m.Name(), err)
	}
	_ = resp.Body.Close()
	switch resp.StatusCode {
	case http.StatusOK:
		return true, nil
	case http.StatusUnauthorized:
		return false, nil
	}
	return false, fmt.Errorf("probing %s: answered %s", m.Name(), resp.Status)
}

// Serves completes a TLS handshake with each API server trusting ca alone.
func (TLSProber) Serves(ctx context.Context, p *controlplane.Plan, ca *pki.CA) (map[string]bool, error) {
	roots := x509.NewCertPool()
	roots.AddCert(ca.Cert)
	out := map[string]bool{}
	for _, m := range p.Members(controlplane.KindAPIServer) {
		d := tls.Dialer{NetDialer: &net.Dialer{Timeout: probeTimeout},
			Config: &tls.Config{RootCAs: roots, ServerName: m.IP.String(), MinVersion: tls.VersionTLS12}}
		conn, err := d.DialContext(ctx, "tcp", m.Address())
		var unknown x509.UnknownAuthorityError
		var verr *tls.CertificateVerificationError
		switch {
		case err == nil:
			_ = conn.Close()
			out[m.Name()] = true
		case errors.As(err, &unknown) || errors.As(err, &verr):
			out[m.Name()] = false
		default:
			return nil, fmt.Errorf("probing %s: %w", m.Name(), err)
		}
	}
	return out, nil
}

func bundlePool(p *controlplane.Plan) (*x509.CertPool, error) {
	data, err := os.ReadFile(p.Files().CABundle)
	if err != nil {
		return nil, fmt.Errorf("reading trust bundle: %w", err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(data)
	return pool, nil
}
