package lb

import (
	"context"
	"errors"
	"math"
	"net"
	"os"
	"sync/atomic"
	"time"
)

// connLimits is what every endpoint of a Balancer shares: the caps and the
// count of client connections open on all of them.
type connLimits struct {
	total       int64
	perEndpoint int64
	firstByte   time.Duration
	open        atomic.Int64
}

func newConnLimits(c Config) *connLimits {
	return &connLimits{
		total:       int64(c.MaxConnections),
		perEndpoint: int64(c.MaxConnectionsPerEndpoint),
		firstByte:   c.FirstByteTimeout,
	}
}

// connCounts is one endpoint's share of the limits and what it refused.
type connCounts struct {
	open       atomic.Int64 // client connections, waiting or proxied
	waiting    atomic.Int64 // client connections that have sent nothing yet
	refused    atomic.Int64
	idleClosed atomic.Int64
	// lastRefusalLog and lastIdleLog are Unix nanoseconds of the last log
	// line of each kind: a flood must not turn into a flood of log lines.
	lastRefusalLog, lastIdleLog atomic.Int64
}

// floodLogInterval is the least time between two log lines about refused or
// silent connections of one endpoint.
const floodLogInterval = 10 * time.Second

// firstReadSize bounds the first read of a client connection: the bytes held
// in memory before a backend is dialled. A larger ClientHello arrives in
// several reads, and the rest of it is spliced like everything after it.
const firstReadSize = 1024

// admit counts a new client connection against the endpoint's cap and the
// total, and reports whether both had room. The endpoint's cap is checked
// first, so an endpoint at its cap never takes room from the others.
func (e *endpoint) admit() bool {
	if e.counts.open.Add(1) > e.limits.perEndpoint {
		e.counts.open.Add(-1)
		return false
	}
	if e.limits.open.Add(1) > e.limits.total {
		e.limits.open.Add(-1)
		e.counts.open.Add(-1)
		return false
	}
	return true
}

func (e *endpoint) release() {
	e.limits.open.Add(-1)
	e.counts.open.Add(-1)
}

// refuse closes a connection over a cap at once. It was accepted only to be
// closed: leaving it in the kernel's backlog would stall every client behind
// it, legitimate ones included.
func (e *endpoint) refuse(conn net.Conn) {
	_ = conn.Close()
	n := e.counts.refused.Add(1)
	if logDue(&e.counts.lastRefusalLog) {
		e.log.Warn("refusing connections over the connection cap",
			"open", e.counts.open.Load(), "maxPerEndpoint", e.limits.perEndpoint,
			"openTotal", e.limits.open.Load(), "maxTotal", e.limits.total, "refusedSoFar", n)
	}
}

// awaitFirstBytes waits up to the first-byte timeout for the client to send
// something and returns what it sent. Only then is a backend dialled, so
// connections that never speak never reach an API server. A client that sent
// nothing, or an endpoint closed meanwhile, yields false.
func (e *endpoint) awaitFirstBytes(client net.Conn) ([]byte, bool) {
	e.counts.waiting.Add(1)
	defer e.counts.waiting.Add(-1)
	// Closing the endpoint must not wait out every silent client's timeout.
	stop := context.AfterFunc(e.ctx, func() { _ = client.Close() })
	defer stop()
	if err := client.SetReadDeadline(time.Now().Add(e.limits.firstByte)); err != nil {
		return nil, false
	}
	buf := make([]byte, firstReadSize)
	n, err := client.Read(buf)
	if n == 0 || e.ctx.Err() != nil {
		e.noteSilent(err)
		return nil, false
	}
	if err := client.SetReadDeadline(time.Time{}); err != nil {
		return nil, false
	}
	return buf[:n], true
}

// noteSilent counts a client closed for sending nothing in time; clients
// that hung up by themselves are not counted.
func (e *endpoint) noteSilent(err error) {
	if !errors.Is(err, os.ErrDeadlineExceeded) {
		return
	}
	n := e.counts.idleClosed.Add(1)
	if logDue(&e.counts.lastIdleLog) {
		e.log.Info("closing connections that sent nothing", "timeout", e.limits.firstByte, "closedSoFar", n)
	}
}

// logDue reports whether floodLogInterval has passed since *last, and if so
// moves *last to now; of concurrent callers only one wins.
func logDue(last *atomic.Int64) bool {
	now := time.Now().UnixNano()
	prev := last.Load()
	return now-prev >= int64(floodLogInterval) && last.CompareAndSwap(prev, now)
}

// fdReserve is the descriptors kept beside proxied connections: a listener
// per endpoint, health checks, the status server, config files.
const fdReserve = 4096

// fitFileLimit raises RLIMIT_NOFILE to what c's caps need, two descriptors
// per proxied connection, and lowers the caps to what fits when the limit
// cannot be raised: a balancer out of descriptors cannot accept on any
// endpoint, so a cap it cannot honour would defeat the caps' purpose.
func fitFileLimit(c Config) Config {
	want := filesFor(c.MaxConnections)
	got, err := raiseFileLimit(want)
	if err != nil {
		c.Logger.Warn("cannot raise the open file limit", "want", want, "err", err)
	}
	fit := capsFor(c, got)
	if fit.MaxConnections != c.MaxConnections || fit.MaxConnectionsPerEndpoint != c.MaxConnectionsPerEndpoint {
		c.Logger.Warn("open file limit too low for the connection caps; lowering them", "fileLimit", got,
			"maxConnections", fit.MaxConnections, "was", c.MaxConnections,
			"maxConnectionsPerEndpoint", fit.MaxConnectionsPerEndpoint, "wasPerEndpoint", c.MaxConnectionsPerEndpoint)
	}
	return fit
}

func filesFor(connections int) uint64 {
	return uint64(2*connections + fdReserve) //nolint:gosec // G115: connections is validated positive and far below 2^62
}

// capsFor lowers c's caps to what a limit of files descriptors holds, keeping
// the per-endpoint cap at most half the total.
func capsFor(c Config, files uint64) Config {
	if files >= filesFor(c.MaxConnections) {
		return c
	}
	c.MaxConnections = 2
	if files > fdReserve+4 {
		c.MaxConnections = int(min((files-fdReserve)/2, math.MaxInt32))
	}
	c.MaxConnectionsPerEndpoint = max(1, min(c.MaxConnectionsPerEndpoint, c.MaxConnections/2))
	return c
}
