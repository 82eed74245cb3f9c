package lb

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// endpoint is one cluster's stable address: a listener and its backends.
type endpoint struct {
	id     string
	listen string
	log    *slog.Logger
	ctx    context.Context // done once the endpoint is closed
	cancel context.CancelFunc
	wg     *sync.WaitGroup // the Balancer's, so Close waits for every goroutine
	health atomic.Pointer[healthCheck]
	conns  atomic.Pointer[connPolicy]
	rr     atomic.Uint32 // breaks ties between equally loaded backends
	limits *connLimits   // the Balancer's, shared by every endpoint
	counts connCounts

	mu        sync.Mutex
	ln        net.Listener
	listenErr error
	backends  []*backend // replaced, never mutated, so readers may keep a copy
	closed    bool
}

var listenConfig = net.ListenConfig{KeepAliveConfig: keepAlive}

func newEndpoint(ctx context.Context, wg *sync.WaitGroup, log *slog.Logger, limits *connLimits, c EndpointConfig, hc *healthCheck) *endpoint {
	e := &endpoint{id: c.ID, listen: c.Listen, log: log.With("endpoint", c.ID), wg: wg, limits: limits}
	e.ctx, e.cancel = context.WithCancel(ctx)
	e.update(c, hc)
	wg.Go(e.reapLoop)
	return e
}

// connPolicy is how long an endpoint keeps connections, swapped whole on reload.
// The drain window is not here: each backend holds its own (setDraining).
type connPolicy struct {
	maxAge time.Duration
}

// reapInterval is how often due connections are closed: the precision of
// maximum ages and drains.
const reapInterval = 500 * time.Millisecond

// newSession starts a client's session, with its maximum age when there is one.
func (e *endpoint) newSession(client net.Conn) *session {
	s := &session{client: client}
	if p := e.conns.Load(); p != nil && p.maxAge > 0 {
		j := 1 + connectionAgeJitter*(2*rand.Float64()-1) //nolint:gosec // G404: jitter that spreads reconnects; it need not be unpredictable
		s.maxAgeAt = time.Now().Add(time.Duration(float64(p.maxAge) * j))
	}
	return s
}

// reapLoop closes connections past their maximum age or their backend's drain.
func (e *endpoint) reapLoop() {
	t := time.NewTicker(reapInterval)
	defer t.Stop()
	for {
		select {
		case <-e.ctx.Done():
			return
		case now := <-t.C:
			e.mu.Lock()
			backends := e.backends
			e.mu.Unlock()
			for _, b := range backends {
				if n := b.reap(now); n > 0 {
					b.log.Debug("closed connections past their maximum age or drain", "connections", n)
				}
			}
		}
	}
}

// update applies a changed file in place: the listener and the connections
// to backends that stay in the config are left alone.
func (e *endpoint) update(c EndpointConfig, hc *healthCheck) {
	if old := e.health.Swap(hc); old != nil {
		close(old.superseded)
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.closed {
		return
	}
	e.conns.Store(&connPolicy{
		maxAge: time.Duration(c.MaxConnectionAgeSeconds) * time.Second,
	})
	old := e.backends
	e.backends = e.reconcileBackends(old, c.Backends)
	closeRemoved(old, e.backends)
	for i, b := range e.backends {
		window := time.Duration(c.DrainSeconds) * time.Second
		if c.Backends[i].KeepConnections {
			window = -1
		}
		b.setDraining(c.Backends[i].Draining, window)
	}
}

func (e *endpoint) reconcileBackends(old []*backend, want []BackendConfig) []*backend {
	next := make([]*backend, 0, len(want))
	for _, c := range want {
		i := slices.IndexFunc(old, func(b *backend) bool { return b.matches(c) })
		if i >= 0 {
			next = append(next, old[i])
			continue
		}
		next = append(next, e.addBackend(c))
	}
	return next
}

func (e *endpoint) addBackend(c BackendConfig) *backend {
	b := newBackend(c, e.log)
	b.start(e.ctx, e.wg, e.health.Load)
	b.log.Info("backend added")
	return b
}

func closeRemoved(old, next []*backend) {
	for _, b := range old {
		if !slices.Contains(next, b) {
			b.close()
			b.log.Info("backend removed")
		}
	}
}

// tryListen opens the listener unless it is open. Reloads call it again after
// a failure because the address may be held by a process on its way out.
func (e *endpoint) tryListen() error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.ln != nil || e.closed {
		return nil
	}
	ln, err := listenConfig.Listen(e.ctx, "tcp", e.listen)
	if err != nil {
		e.listenErr = fmt.Errorf("listening on %s: %w", e.listen, err)
		return e.listenErr
	}
	e.ln, e.listenErr = ln, nil
	e.log.Info("endpoint listening", "listen", ln.Addr().String())
	e.wg.Go(func() { e.serve(ln) })
	return nil
}

func (e *endpoint) serve(ln net.Listener) {
	var backoff time.Duration
	for {
		conn, err := ln.Accept()
		if err == nil {
			backoff = 0
			if !e.admit() {
				e.refuse(conn)
				continue
			}
			e.wg.Go(func() { e.handle(conn) })
			continue
		}
		if errors.Is(err, net.ErrClosed) {
			return
		}
		backoff = acceptBackoff(backoff)
		e.log.Warn("accepting connection", "err", err, "retryIn", backoff)
		if !sleep(e.ctx, backoff) {
			return
		}
	}
}

// acceptBackoff paces retries of errors such as EMFILE, which would
// otherwise spin a core until a descriptor frees up.
func acceptBackoff(prev time.Duration) time.Duration {
	return min(max(2*prev, 5*time.Millisecond), time.Second)
}

// close stops the listener and health checks and cuts every connection.
func (e *endpoint) close() {
	e.cancel()
	e.mu.Lock()
	defer e.mu.Unlock()
	e.closed = true
	if e.ln != nil {
		_ = e.ln.Close()
	}
	for _, b := range e.backends {
		b.close()
	}
	e.backends = nil
}

// candidates returns the backends a new connection should try, best first.
func (e *endpoint) candidates() []*backend {
	e.mu.Lock()
	backends := e.backends
	e.mu.Unlock()
	return rankBackends(backends, int(e.rr.Add(1)))
}

func (e *endpoint) listening() bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.ln != nil
}

func (e *endpoint) status() EndpointStatus {
	e.mu.Lock()
	defer e.mu.Unlock()
	st := EndpointStatus{ID: e.id, Listen: e.listen, Listening: e.ln != nil,
		Connections:           int(e.counts.open.Load()),
		WaitingConnections:    int(e.counts.waiting.Load()),
		MaxConnections:        int(e.limits.perEndpoint),
		RefusedConnections:    e.counts.refused.Load(),
		IdleClosedConnections: e.counts.idleClosed.Load(),
	}
	if e.ln != nil {
		st.Listen = e.ln.Addr().String() // differs when the file asks for port 0
	}
	if e.listenErr != nil {
		st.Error = e.listenErr.Error()
	}
	st.Backends = make([]BackendStatus, 0, len(e.backends))
	for _, b := range e.backends {
		st.Backends = append(st.Backends, b.status())
	}
	return st
}
