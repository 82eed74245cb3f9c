package zonehealth

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"syscall"
	"time"
)

// ErrRefused marks a probe whose connection was refused. The zone's network
// answered and only the component is down: that is the process supervisor's
// business, so zone health counts such a probe neither good nor bad.
var ErrRefused = errors.New("connection refused")

// Target is one thing probed in a zone: a component's TCP+TLS port or the
// zone's canary.
type Target struct {
	Zone string
	Name string
	Addr string // host:port
}

// Probe measures one target: how long a TCP connect plus TLS handshake took,
// or an error. It must return once ctx ends, as the Monitor waits for every
// probe of a round.
type Probe func(ctx context.Context, t Target) (time.Duration, error)

// TLSProbe returns a Probe that dials the target and completes a TLS handshake
// within timeout, then closes the connection. A refused connection is wrapped
// in ErrRefused.
func TLSProbe(timeout time.Duration) Probe {
	cfg := &tls.Config{
		// The probe measures whether the zone's network and the component's
		// TLS stack answer in time, not who the component is: no data crosses
		// the connection, so there is nothing to protect, and verifying would
		// need every tenant cluster's CA here.
		InsecureSkipVerify: true, //nolint:gosec // see above
		MinVersion:         tls.VersionTLS12,
		// Plain X25519 skips the ML-KEM half of the default hybrid key
		// exchange: a cell makes many probes a second on a small machine.
		CurvePreferences: []tls.CurveID{tls.X25519, tls.CurveP256},
	}
	var dialer net.Dialer
	return func(ctx context.Context, t Target) (time.Duration, error) {
		ctx, cancel := context.WithTimeout(ctx, timeout)
		defer cancel()
		start := time.Now()
		conn, err := dialer.DialContext(ctx, "tcp", t.Addr)
		if err != nil {
			return 0, probeError(t, "connecting to", err)
		}
		tc := tls.Client(conn, cfg)
		defer func() { _ = tc.Close() }() // the handshake was the probe; closing adds nothing to its answer
		if err := tc.HandshakeContext(ctx); err != nil {
			return 0, probeError(t, "TLS handshake with", err)
		}
		return time.Since(start), nil
	}
}

func probeError(t Target, doing string, err error) error {
	if errors.Is(err, syscall.ECONNREFUSED) {
		return fmt.Errorf("%s %s at %s: %w: %w", doing, t.Name, t.Addr, ErrRefused, err)
	}
	return fmt.Errorf("%s %s at %s: %w", doing, t.Name, t.Addr, err)
}

// isTimeout reports whether a probe ran out of time, as opposed to failing
// outright (reset, handshake alert): the two read differently in a reason.
func isTimeout(err error) bool {
	var ne net.Error
	return errors.Is(err, context.DeadlineExceeded) || (errors.As(err, &ne) && ne.Timeout())
}
