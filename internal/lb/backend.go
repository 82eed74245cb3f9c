package lb

import (
	"context"
	"log/slog"
	"math/rand/v2"
	"net"
	"sync"
	"sync/atomic"
	"time"
)

// backend is one kube-apiserver behind an endpoint: its health and the
// connections proxied to it.
type backend struct {
	name    string
	address string
	log     *slog.Logger
	cancel  context.CancelFunc // stops the health loop

	opened atomic.Int64 // client connections dialled

	mu       sync.Mutex
	health   health
	sessions map[*session]struct{} // allocated on first use: most endpoints idle
	closed   bool
	draining bool
	drain    time.Duration // the window draining closes connections over
}

// session is one client connection and, once dialled, its backend connection.
// Its fields are guarded by the mu of the backend it is registered with.
type session struct {
	client net.Conn
	server net.Conn
	closed bool
	// maxAgeAt and drainAt are when the session is closed to rebalance or to
	// drain its backend; zero means never.
	maxAgeAt, drainAt time.Time
}

// due reports whether the session has outlived its maximum age or its drain.
func (s *session) due(now time.Time) bool {
	return !s.maxAgeAt.IsZero() && !now.Before(s.maxAgeAt) || !s.drainAt.IsZero() && !now.Before(s.drainAt)
}

func newBackend(c BackendConfig, log *slog.Logger) *backend {
	return &backend{
		name:    c.Name,
		address: c.Address,
		log:     log.With("backend", c.Name, "address", c.Address),
		health:  health{state: StateUnknown},
	}
}

func (b *backend) matches(c BackendConfig) bool {
	return b.name == c.Name && b.address == c.Address
}

// start runs the health loop until ctx is done or the backend is closed.
func (b *backend) start(ctx context.Context, wg *sync.WaitGroup, settings func() *healthCheck) {
	ctx, b.cancel = context.WithCancel(ctx)
	wg.Go(func() { b.healthLoop(ctx, settings) })
}

// healthLoop probes the backend every interval. The first probe waits a
// random part of an interval so that a thousand endpoints loaded at once do
// not probe in lockstep forever after; new settings trigger a probe at once,
// so a rotated CA or a shorter interval takes effect without waiting out
// the old one.
func (b *backend) healthLoop(ctx context.Context, settings func() *healthCheck) {
	hc := settings()
	if !pause(ctx, hc, rand.N(hc.interval)) { //nolint:gosec // G404: jitter that spreads checks; it need not be unpredictable
		return
	}
	ticker := time.NewTicker(hc.interval)
	defer ticker.Stop()
	for {
		hc = settings()
		b.record(ctx, hc, hc.probe(ctx, b.address))
		select {
		case <-ctx.Done():
			return
		case <-ticker.C:
		case <-hc.superseded:
		}
		ticker.Reset(settings().interval)
	}
}

// record ignores results cut short by removal so that removing a backend
// does not log it as failed.
func (b *backend) record(ctx context.Context, hc *healthCheck, err error) {
	if ctx.Err() != nil {
		return
	}
	b.mu.Lock()
	prev := b.health.state
	changed := b.health.observe(err, hc.fall, hc.rise)
	now := b.health.state
	b.mu.Unlock()
	switch {
	case !changed:
	case err != nil:
		b.log.Warn("backend health changed", "from", prev, "to", now, "err", err)
	default:
		b.log.Info("backend health changed", "from", prev, "to", now)
	}
}

// add registers s before dialling so concurrent connections already see the
// load and spread out. It fails once the backend has been removed.
func (b *backend) add(s *session) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return false
	}
	if b.sessions == nil {
		b.sessions = make(map[*session]struct{})
	}
	b.sessions[s] = struct{}{}
	if b.draining && b.drain >= 0 {
		s.drainAt = time.Now().Add(randUpTo(b.drain))
	}
	return true
}

// setDraining starts or ends a drain. Starting one gives each connection a
// random moment within window to be closed; a negative window closes none
// (the server closes them itself); ending it keeps the rest open.
func (b *backend) setDraining(on bool, window time.Duration) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.drain = window
	if on == b.draining {
		return
	}
	b.draining = on
	now := time.Now()
	for s := range b.sessions {
		if on && window >= 0 {
			s.drainAt = now.Add(randUpTo(window))
		} else {
			s.drainAt = time.Time{}
		}
	}
	if on {
		b.log.Info("backend draining", "connections", len(b.sessions), "window", window)
	} else {
		b.log.Info("backend back in rotation")
	}
}

// reap closes the sessions that are due and returns how many.
func (b *backend) reap(now time.Time) int {
	b.mu.Lock()
	defer b.mu.Unlock()
	n := 0
	for s := range b.sessions {
		if !s.closed && s.due(now) {
			s.closeLocked()
			n++
		}
	}
	return n
}

func randUpTo(d time.Duration) time.Duration {
	if d <= 0 {
		return 0
	}
	return rand.N(d) //nolint:gosec // G404: jitter spreads closes over a window; it need not be unpredictable
}

// attach records the dialled server connection, closing it instead when the
// backend was removed while dialling.
func (b *backend) attach(s *session, server net.Conn) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	if s.closed {
		_ = server.Close()
		return false
	}
	s.server = server
	return true
}

// remove unregisters s and reports whether the backend's removal closed it
// meanwhile, in which case the client is gone and must not be retried.
func (b *backend) remove(s *session) (closed bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	delete(b.sessions, s)
	return s.closed
}

// close stops health checks and cuts every connection: only a backend gone
// from the config is closed, and its clients must reconnect elsewhere.
func (b *backend) close() {
	if b.cancel != nil {
		b.cancel()
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	b.closed = true
	for s := range b.sessions {
		s.closeLocked()
	}
}

func (s *session) closeLocked() {
	s.closed = true
	_ = s.client.Close()
	if s.server != nil {
		_ = s.server.Close()
	}
}

func (b *backend) status() BackendStatus {
	b.mu.Lock()
	defer b.mu.Unlock()
	return BackendStatus{
		Name:              b.name,
		Address:           b.address,
		Healthy:           b.health.state == StateHealthy,
		State:             b.health.state,
		Draining:          b.draining,
		ActiveConnections: len(b.sessions),
		ConnectionsOpened: b.opened.Load(),
		LastError:         b.health.lastErr,
	}
}

// sleep waits d or until ctx is done, reporting whether it waited in full.
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

// pause is sleep cut short when hc is superseded by new settings.
func pause(ctx context.Context, hc *healthCheck, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
	case <-hc.superseded:
	}
	return true
}

func waitTick(ctx context.Context, t *time.Ticker) bool {
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}
