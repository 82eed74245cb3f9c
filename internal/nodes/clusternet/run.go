package clusternet

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"path/filepath"
	"sync"
	"time"

	"github.com/vishvananda/netns"

	"github.com/cellplane/cellplane/internal/runtime/nsthread"
)

// Config is what Run needs; a command's flags fill it.
type Config struct {
	// Name is the cluster's key, unique on the host: it names the
	// namespace (NamespaceOf).
	Name string
	// Upstream is host:port of the cluster's endpoint on the cell's
	// loopback block, which Run dials from the host's namespace.
	Upstream string
	// Log receives what the network does; nil discards it.
	Log *slog.Logger
}

// Validate checks c without touching anything.
func (c Config) Validate() error {
	if err := validName(c.Name); err != nil {
		return err
	}
	ap, err := netip.ParseAddrPort(c.Upstream)
	if err != nil || !ap.Addr().IsLoopback() {
		return fmt.Errorf("%w: upstream %q: want an address:port on the cell's loopback block", ErrInvalid, c.Upstream)
	}
	return nil
}

// Run sets up the cluster network of c.Name (adopting one that exists),
// and until ctx ends forwards every connection to a service address, port
// 6443, in it to c.Upstream. It leaves the network in place for the machines
// attached to it and the next Run; Remove deletes it.
func Run(ctx context.Context, c Config) error {
	if err := c.Validate(); err != nil {
		return err
	}
	log := c.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	l := LinkOf(c.Name)
	if err := Ensure(l); err != nil {
		return err
	}
	var lns []net.Listener
	for _, a := range ServiceAddresses() {
		ln, err := listenIn(l, netip.AddrPortFrom(a, APIServerPort))
		if err != nil {
			for _, ln := range lns {
				_ = ln.Close() // not served yet
			}
			return err
		}
		lns = append(lns, ln)
	}
	log.Info("cluster network serving", "namespace", l.Namespace, "addresses", ServiceAddresses(), "port", APIServerPort, "upstream", c.Upstream)
	f := &forwarder{upstream: c.Upstream, log: log, conns: map[net.Conn]struct{}{}}
	return f.serve(ctx, lns)
}

// listenIn opens the listening socket on a thread inside the network: the
// socket stays there, and every connection accepted from it.
func listenIn(l Link, at netip.AddrPort) (net.Listener, error) {
	ns, err := netns.GetFromPath(filepath.Join(netnsDir, l.Namespace))
	if err != nil {
		return nil, fmt.Errorf("opening %s: %w", l.Namespace, err)
	}
	defer func() { _ = ns.Close() }() // a namespace handle: closing only drops the reference
	var ln net.Listener
	err = nsthread.In(ns, func() error {
		var err error
		ln, err = net.Listen("tcp", at.String())
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("listening on %s in %s: %w", at, l.Namespace, err)
	}
	return ln, nil
}

// forwarder copies each accepted connection to a connection of its own to
// the upstream, both ways, byte for byte.
type forwarder struct {
	upstream string
	log      *slog.Logger

	mu    sync.Mutex
	conns map[net.Conn]struct{}
	wg    sync.WaitGroup
}

// serve accepts on every listener until ctx ends or one fails, then
// closes them and every open connection and waits for the copies to end.
func (f *forwarder) serve(ctx context.Context, lns []net.Listener) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stop := context.AfterFunc(ctx, func() {
		for _, ln := range lns {
			_ = ln.Close() // ends Accept
		}
		f.mu.Lock()
		for c := range f.conns {
			_ = c.Close() // ends its copies
		}
		f.conns = nil // and no new one starts
		f.mu.Unlock()
	})
	defer stop()
	errs := make(chan error, len(lns))
	for _, ln := range lns {
		go func() {
			err := f.accept(ctx, ln)
			cancel() // one listener failing ends them all
			errs <- err
		}()
	}
	var err error
	for range lns {
		err = errors.Join(err, <-errs)
	}
	f.wg.Wait()
	return err
}

func (f *forwarder) accept(ctx context.Context, ln net.Listener) error {
	for {
		c, err := ln.Accept()
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				continue
			}
			return fmt.Errorf("accepting on %s: %w", ln.Addr(), err)
		}
		f.wg.Add(1)
		go func() {
			defer f.wg.Done()
			f.handle(ctx, c)
		}()
	}
}

func (f *forwarder) handle(ctx context.Context, down net.Conn) {
	if !f.track(down, true) {
		_ = down.Close()
		return
	}
	defer f.track(down, false)
	defer func() { _ = down.Close() }() // the copies have ended
	dctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	up, err := (&net.Dialer{}).DialContext(dctx, "tcp", f.upstream)
	cancel()
	if err != nil {
		f.log.Warn("cluster network: dialling the endpoint", "from", down.RemoteAddr(), "err", err)
		return
	}
	if !f.track(up, true) {
		_ = up.Close()
		return
	}
	defer f.track(up, false)
	defer func() { _ = up.Close() }() // the copies have ended
	done := make(chan struct{})
	go func() {
		pipe(up, down)
		close(done)
	}()
	pipe(down, up)
	<-done
}

// track adds or drops c from the open connections; it refuses new ones
// once serve has closed them all.
func (f *forwarder) track(c net.Conn, add bool) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	if !add {
		delete(f.conns, c)
		return true
	}
	if f.conns == nil {
		return false
	}
	f.conns[c] = struct{}{}
	return true
}

// pipe copies from src to dst until src ends, then half-closes dst, so the
// other direction finishes on its own (TLS close_notify, HTTP/1.0).
func pipe(dst, src net.Conn) {
	_, _ = io.Copy(dst, src) // either side closing ends it; nothing to report
	if tc, ok := dst.(*net.TCPConn); ok {
		_ = tc.CloseWrite() // the peer may still be gone; Close follows anyway
		return
	}
	_ = dst.Close()
}
