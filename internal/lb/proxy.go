package lb

import (
	"errors"
	"fmt"
	"io"
	"net"
	"time"
)

const (
	dialTimeout = time.Second
	// userTimeout is how long sent data may go unacknowledged before the
	// kernel drops a backend connection; see setUserTimeout.
	userTimeout = 20 * time.Second
)

// keepAlive probes idle connections on both sides so a dead peer is noticed
// even when neither side is sending.
var keepAlive = net.KeepAliveConfig{Enable: true, Idle: 15 * time.Second, Interval: 5 * time.Second, Count: 3}

var backendDialer = &net.Dialer{Timeout: dialTimeout, KeepAliveConfig: keepAlive, Control: setUserTimeout}

var (
	errBackendRemoved = errors.New("backend removed")
	errSessionClosed  = errors.New("connection closed by backend removal")
)

// handle proxies one admitted client connection until either side is done.
// The backend is dialled once the client has spoken, and gets what it said
// first.
func (e *endpoint) handle(client net.Conn) {
	defer e.release()
	// Either side may already be closed by pipe, a drain or a removal; a close
	// error at the end of a proxied connection has no one to go to.
	defer func() { _ = client.Close() }()
	first, ok := e.awaitFirstBytes(client)
	if !ok {
		return
	}
	s := e.newSession(client)
	b, server := e.connect(s)
	if b == nil {
		return
	}
	defer b.remove(s)
	defer func() { _ = server.Close() }()
	if _, err := server.Write(first); err != nil {
		b.log.Debug("forwarding the client's first bytes failed", "err", err)
		return
	}
	pipe(client, server)
}

// connect dials the ranked backends in turn. With none left the client is
// closed at once rather than left waiting for a backend that may never come.
func (e *endpoint) connect(s *session) (*backend, net.Conn) {
	for _, b := range e.candidates() {
		server, err := e.dial(b, s)
		if err == nil {
			return b, server
		}
		if errors.Is(err, errSessionClosed) {
			return nil, nil
		}
		b.log.Debug("dialling backend failed; trying the next", "err", err)
	}
	e.log.Warn("no backend answered; closing client", "client", s.client.RemoteAddr())
	return nil, nil
}

func (e *endpoint) dial(b *backend, s *session) (net.Conn, error) {
	if !b.add(s) {
		return nil, errBackendRemoved
	}
	server, err := backendDialer.DialContext(e.ctx, "tcp", b.address)
	if err != nil {
		if b.remove(s) {
			return nil, errSessionClosed
		}
		return nil, fmt.Errorf("dialling backend %s: %w", b.address, err)
	}
	b.opened.Add(1)
	if !b.attach(s, server) {
		b.remove(s)
		return nil, errSessionClosed
	}
	return server, nil
}

// pipe copies both ways until both directions are done. io.Copy between two
// TCP connections splices in the kernel on Linux, so no user-space buffer is
// held per connection.
func pipe(client, server net.Conn) {
	done := make(chan struct{})
	go func() {
		defer close(done)
		copyHalf(server, client)
	}()
	copyHalf(client, server)
	<-done
}

// copyHalf forwards src to dst and then half-closes dst, so the peer sees EOF
// but can still answer (TLS close_notify, requests sent before a shutdown).
// An error instead tears down both sides: the other direction would
// otherwise wait for a keepalive to notice.
func copyHalf(dst, src net.Conn) {
	if _, err := io.Copy(dst, src); err != nil {
		_ = dst.Close()
		_ = src.Close()
		return
	}
	if cw, ok := dst.(interface{ CloseWrite() error }); ok {
		_ = cw.CloseWrite()
		return
	}
	_ = dst.Close()
}
