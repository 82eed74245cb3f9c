package lb

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"time"
)

// HealthState is a backend's health as its checks last saw it.
type HealthState string

// A backend starts StateUnknown and is routable then only while no backend
// is healthy, so a fresh endpoint serves before its first check completes.
const (
	StateUnknown   HealthState = "unknown"
	StateHealthy   HealthState = "healthy"
	StateUnhealthy HealthState = "unhealthy"
)

var (
	errNotReady  = errors.New("backend not ready")
	errNoCACerts = errors.New("no PEM certificates found")
)

// healthCheck is one endpoint's resolved health-check settings. It is
// immutable and swapped whole on reload, so a running loop never sees half
// a change.
type healthCheck struct {
	path       string
	serverName string
	interval   time.Duration
	timeout    time.Duration
	fall, rise int
	tls        *tls.Config
	tlsErr     error         // why no check can pass, e.g. an unreadable CA file
	superseded chan struct{} // closed when new settings replace these
}

func newHealthCheck(c HealthCheckConfig) *healthCheck {
	hc := &healthCheck{
		path:       c.Path,
		serverName: c.ServerName,
		interval:   time.Duration(c.IntervalMillis) * time.Millisecond,
		timeout:    time.Duration(c.TimeoutMillis) * time.Millisecond,
		fall:       c.FallCount,
		rise:       c.RiseCount,
		superseded: make(chan struct{}),
	}
	hc.tls, hc.tlsErr = healthTLSConfig(c.CAFile)
	return hc
}

// healthTLSConfig is tuned for cost, as a cell makes thousands of checks a
// second and each opens a fresh connection (reusing one would hide a backend
// that stopped accepting). Session resumption skips certificate
// verification, and plain X25519 skips the ML-KEM half of the default
// hybrid key exchange, which roughly halves the handshake: an anonymous
// GET /readyz carries nothing worth protecting from a future quantum
// computer.
func healthTLSConfig(caFile string) (*tls.Config, error) {
	pool, err := loadCA(caFile)
	if err != nil {
		return nil, err
	}
	return &tls.Config{
		RootCAs:            pool,
		MinVersion:         tls.VersionTLS12,
		CurvePreferences:   []tls.CurveID{tls.X25519, tls.CurveP256},
		ClientSessionCache: tls.NewLRUClientSessionCache(4),
	}, nil
}

func loadCA(path string) (*x509.CertPool, error) {
	data, err := os.ReadFile(path) //nolint:gosec // G304: the CA file named in the balancer's own endpoint config
	if err != nil {
		return nil, fmt.Errorf("loading health-check CA: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(data) {
		return nil, fmt.Errorf("loading health-check CA %s: %w", path, errNoCACerts)
	}
	return pool, nil
}

// probe runs one check of the backend at address.
func (hc *healthCheck) probe(ctx context.Context, address string) error {
	if hc.tlsErr != nil {
		return hc.tlsErr
	}
	ctx, cancel := context.WithTimeout(ctx, hc.timeout)
	defer cancel()
	conn, err := hc.dial(ctx, address)
	if err != nil {
		return err
	}
	defer func() { _ = conn.Close() }() // the check's answer is read; closing adds nothing to it
	// The deadline bounds a backend that accepts but never answers; the
	// AfterFunc makes removal interrupt a check at once.
	deadline, _ := ctx.Deadline()
	_ = conn.SetDeadline(deadline)
	stop := context.AfterFunc(ctx, func() { _ = conn.Close() })
	defer stop()
	return hc.get(conn, address)
}

func (hc *healthCheck) dial(ctx context.Context, address string) (net.Conn, error) {
	d := tls.Dialer{Config: hc.tlsConfigFor(address)}
	conn, err := d.DialContext(ctx, "tcp", address)
	if err != nil {
		return nil, fmt.Errorf("health check: connecting to %s: %w", address, err)
	}
	return conn, nil
}

// tlsConfigFor verifies the backend's IP by default: kube-apiserver serving
// certificates carry their advertise address as an IP SAN.
func (hc *healthCheck) tlsConfigFor(address string) *tls.Config {
	conf := hc.tls.Clone()
	conf.ServerName = hc.serverName
	if conf.ServerName == "" {
		conf.ServerName, _, _ = net.SplitHostPort(address)
	}
	return conf
}

func (hc *healthCheck) get(conn net.Conn, address string) error {
	req, err := http.NewRequest(http.MethodGet, "https://"+address+hc.path, nil)
	if err != nil {
		return fmt.Errorf("health check: building request: %w", err)
	}
	req.Close = true
	if err := req.Write(conn); err != nil {
		return fmt.Errorf("health check: sending request: %w", err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(conn), req)
	if err != nil {
		return fmt.Errorf("health check: reading response: %w", err)
	}
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("health check: GET %s: %s: %w", hc.path, resp.Status, errNotReady)
	}
	return nil
}

// health counts consecutive check results; the fall and rise thresholds keep
// one lost packet from taking a backend out of rotation.
type health struct {
	state   HealthState
	fails   int
	rises   int
	lastErr string
}

// observe folds one result into h and reports whether the state changed.
func (h *health) observe(err error, fall, rise int) bool {
	prev := h.state
	if err != nil {
		h.fails, h.rises, h.lastErr = h.fails+1, 0, err.Error()
		if h.fails >= fall {
			h.state = StateUnhealthy
		}
	} else {
		h.fails, h.rises, h.lastErr = 0, h.rises+1, ""
		if h.rises >= rise {
			h.state = StateHealthy
		}
	}
	return h.state != prev
}
