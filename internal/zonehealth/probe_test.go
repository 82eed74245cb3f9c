package zonehealth

import (
	"context"
	"errors"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Test addresses come from 127.229.0.0/16, which is this package's alone.

func listen(t *testing.T, host string) net.Listener {
	t.Helper()
	l, err := net.Listen("tcp", net.JoinHostPort(host, "0"))
	if err != nil {
		t.Fatalf("listening on %s: %v", host, err)
	}
	t.Cleanup(func() { l.Close() })
	return l
}

// tlsServer is a component that answers TLS handshakes.
func tlsServer(t *testing.T) string {
	srv := httptest.NewUnstartedServer(http.NotFoundHandler())
	srv.Listener.Close()
	srv.Listener = listen(t, "127.229.0.1")
	srv.Config.ErrorLog = log.New(io.Discard, "", 0)
	srv.StartTLS()
	t.Cleanup(srv.Close)
	return srv.Listener.Addr().String()
}

// closedPort is an address nothing listens on: the component is down.
func closedPort(t *testing.T) string {
	l := listen(t, "127.229.0.2")
	addr := l.Addr().String()
	l.Close()
	return addr
}

// silentServer accepts connections and never says a word, as a wedged
// process or a half-broken path would.
func silentServer(t *testing.T) string {
	return tcpServer(t, "127.229.0.3", func(net.Conn) {})
}

// hangUpServer accepts connections and closes them at once.
func hangUpServer(t *testing.T) string {
	return tcpServer(t, "127.229.0.4", func(c net.Conn) { c.Close() })
}

func tcpServer(t *testing.T, host string, handle func(net.Conn)) string {
	l := listen(t, host)
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		conns []net.Conn
	)
	wg.Go(func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
			handle(c)
		}
	})
	t.Cleanup(func() {
		l.Close()
		wg.Wait()
		for _, c := range conns {
			c.Close()
		}
	})
	return l.Addr().String()
}

func TestTLSProbe(t *testing.T) {
	const timeout = 300 * time.Millisecond
	cases := []struct {
		name        string
		server      func(*testing.T) string
		want        verdict
		wantRefused bool
		minElapsed  time.Duration
	}{
		{name: "answers", server: tlsServer, want: good},
		{name: "closed port", server: closedPort, want: ignored, wantRefused: true},
		{name: "never answers the handshake", server: silentServer, want: timedOut, minElapsed: timeout},
		{name: "hangs up", server: hangUpServer, want: failed},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			target := Target{Zone: "a", Name: "component", Addr: tc.server(t)}
			began := time.Now()
			d, err := TLSProbe(timeout)(context.Background(), target)
			elapsed := time.Since(began)
			t.Logf("probe took %s (measured %s): %v", elapsed, d, err)
			if got := classify(result{latency: d, err: err}, time.Second); got != tc.want {
				t.Errorf("verdict %v, want %v (err %v)", got, tc.want, err)
			}
			if got := errors.Is(err, ErrRefused); got != tc.wantRefused {
				t.Errorf("errors.Is(err, ErrRefused) = %v, want %v", got, tc.wantRefused)
			}
			if tc.wantRefused && !errors.Is(err, syscall.ECONNREFUSED) {
				t.Errorf("err %v does not wrap ECONNREFUSED", err)
			}
			if err == nil && (d <= 0 || d > elapsed) {
				t.Errorf("measured %s, want between 0 and the %s the call took", d, elapsed)
			}
			// The upper bound is loose: a busy CI machine may be slow to wake us.
			if elapsed < tc.minElapsed || elapsed > tc.minElapsed+5*time.Second {
				t.Errorf("probe took %s, want %s to %s", elapsed, tc.minElapsed, tc.minElapsed+5*time.Second)
			}
		})
	}
}
