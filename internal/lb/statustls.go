package lb

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net"
	"os"
)

// StatusTLS is the status server's mutual TLS: its serving certificate and
// the CA that its clients' certificates must chain to. The status names every
// tenant's endpoints, backends and connection counts, so it is served to the
// service's own clients only, never in the clear.
type StatusTLS struct {
	CertFile, KeyFile, ClientCAFile string
}

func (s StatusTLS) validate() error {
	if s.CertFile == "" || s.KeyFile == "" || s.ClientCAFile == "" {
		return fmt.Errorf("%w: the status server serves only mutual TLS: a certificate, its key and a client CA are all required", ErrInvalidConfig)
	}
	if _, err := s.config(nil); err != nil {
		return fmt.Errorf("%w: %w", ErrInvalidConfig, err)
	}
	return nil
}

// listen wraps ln in a TLS listener that reads the files at every handshake,
// so certificates renewed on disk are served without a restart.
func (s StatusTLS) listen(ln net.Listener) net.Listener {
	return tls.NewListener(ln, &tls.Config{MinVersion: tls.VersionTLS12, GetConfigForClient: s.config})
}

func (s StatusTLS) config(*tls.ClientHelloInfo) (*tls.Config, error) {
	cert, err := tls.LoadX509KeyPair(s.CertFile, s.KeyFile)
	if err != nil {
		return nil, fmt.Errorf("loading the status certificate: %w", err)
	}
	pem, err := os.ReadFile(s.ClientCAFile)
	if err != nil {
		return nil, fmt.Errorf("reading the status client CA: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("the status client CA %s holds no certificate", s.ClientCAFile)
	}
	return &tls.Config{
		MinVersion: tls.VersionTLS12, Certificates: []tls.Certificate{cert},
		ClientAuth: tls.RequireAndVerifyClientCert, ClientCAs: pool,
	}, nil
}
