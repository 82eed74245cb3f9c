package zonenet

import (
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"time"

	"github.com/cellplane/cellplane/internal/ipam"
	"github.com/cellplane/cellplane/internal/pki"
	"github.com/cellplane/cellplane/internal/runtime/nsthread"
)

// CanaryPort is where each zone's canary listens, on the zone's source
// address.
const CanaryPort = 9445

// Canaries answers TLS handshakes inside every zone: what the zone health
// monitor probes besides the zone's components. Components come and go
// (replaced, restarted, stopped by an evacuation) and one of them hanging is
// no zone failure; the canary is always there, so a zone's network is judged
// even with no member to probe, and an evacuated zone can be seen to heal.
type Canaries struct {
	lns  []net.Listener
	wg   sync.WaitGroup
	log  *slog.Logger
	Addr map[string]string // zone → host:port
}

// StartCanaries listens in every zone's namespace; Close stops them.
func (n *Net) StartCanaries() (*Canaries, error) {
	cert, err := canaryCert()
	if err != nil {
		return nil, err
	}
	c := &Canaries{log: n.log, Addr: map[string]string{}}
	for i, zone := range ipam.Zones {
		addr := ipam.HostPort(n.cell.ZoneSourceIP(i), CanaryPort)
		var ln net.Listener
		err := nsthread.InPath(n.Path(zone), func() (err error) {
			ln, err = net.Listen("tcp", addr) // the socket stays in the zone
			return err
		})
		if err != nil {
			c.Close()
			return nil, fmt.Errorf("zone %s canary: %w", zone, err)
		}
		c.lns = append(c.lns, ln)
		c.Addr[zone] = addr
		c.wg.Go(func() {
			c.serve(tls.NewListener(ln, &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}))
		})
	}
	return c, nil
}

func (c *Canaries) serve(ln net.Listener) {
	for {
		conn, err := ln.Accept()
		if errors.Is(err, net.ErrClosed) {
			return
		}
		if err != nil {
			c.log.Debug("zone canary accept", "err", err)
			continue
		}
		go func() {
			defer func() { _ = conn.Close() }() // the handshake was all a canary owes a prober
			_ = conn.SetDeadline(time.Now().Add(5 * time.Second))
			_ = conn.(*tls.Conn).Handshake()
		}()
	}
}

// Close stops every canary.
func (c *Canaries) Close() {
	for _, ln := range c.lns {
		_ = ln.Close()
	}
	c.wg.Wait()
}

// canaryCert is a throwaway self-signed certificate: probes check that the
// handshake completes and how long it takes, not who answers.
func canaryCert() (tls.Certificate, error) {
	ca, err := pki.NewCA("cellplane zone canary")
	if err != nil {
		return tls.Certificate{}, err
	}
	certPEM, keyPEM, err := ca.Issue(pki.CertRequest{CommonName: "zone-canary", Usage: pki.Server})
	if err != nil {
		return tls.Certificate{}, err
	}
	return tls.X509KeyPair(certPEM, keyPEM)
}
