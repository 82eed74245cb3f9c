package lb

import (
	"errors"
	"io"
	"net"
	"os"
	"testing"
	"time"
)

// dialSilent opens n TCP connections to addr that send nothing.
func dialSilent(t *testing.T, addr string, n int) []net.Conn {
	t.Helper()
	conns := make([]net.Conn, 0, n)
	for range n {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatalf("dialling %s: %v", addr, err)
		}
		t.Cleanup(func() { _ = c.Close() })
		conns = append(conns, c)
	}
	return conns
}

// closedWithin reports whether the balancer closes c within d: a read ends in
// EOF or a reset rather than the deadline.
func closedWithin(c net.Conn, d time.Duration) error {
	_ = c.SetReadDeadline(time.Now().Add(d))
	_, err := c.Read(make([]byte, 1))
	switch {
	case err == nil:
		return errors.New("read data from a connection expected closed")
	case errors.Is(err, os.ErrDeadlineExceeded):
		return errors.New("still open")
	default:
		return nil
	}
}

func TestSilentClientsNeverReachABackendAndAreClosed(t *testing.T) {
	a := startFakeAPIServer(t, "a")
	const timeout = 300 * time.Millisecond
	h := newHarnessWith(t, func(c *Config) { c.FirstByteTimeout = timeout })
	h.write(h.endpointConfig("default.demo", a))
	addr := h.waitListening("default.demo")
	h.waitState("default.demo", "a", StateHealthy)

	const n = 20
	opened := time.Now()
	conns := dialSilent(t, addr, n)
	for i, c := range conns {
		if err := closedWithin(c, waitTimeout); err != nil {
			t.Fatalf("silent connection %d: %v", i, err)
		}
	}
	if took := time.Since(opened); took < timeout {
		t.Errorf("silent connections closed after %s, before the first-byte timeout %s", took, timeout)
	}
	eventually(t, "silent connections counted", func() bool {
		st, _ := h.endpoint("default.demo")
		return st.IdleClosedConnections == n && st.Connections == 0 && st.WaitingConnections == 0
	})
	if got := h.backend("default.demo", "a").ConnectionsOpened; got != 0 {
		t.Errorf("backend saw %d connections from silent clients, want 0", got)
	}
	if body, err := get(newClient(t), addr, "/"); err != nil || body != "a" {
		t.Fatalf("GET after the silent clients = %q, %v; want a", body, err)
	}
	if got := h.backend("default.demo", "a").ConnectionsOpened; got != 1 {
		t.Errorf("backend connections after one GET = %d, want 1", got)
	}
}

func TestWaitingClientsAreCountedThenProxied(t *testing.T) {
	a := startFakeAPIServer(t, "a")
	h := newHarness(t)
	h.write(h.endpointConfig("default.demo", a))
	addr := h.waitListening("default.demo")
	conns := dialSilent(t, addr, 3)
	eventually(t, "three waiting connections", func() bool {
		st, _ := h.endpoint("default.demo")
		return st.WaitingConnections == 3 && st.Connections == 3
	})
	if got := h.backend("default.demo", "a").ConnectionsOpened; got != 0 {
		t.Fatalf("backend dialled %d times for clients that sent nothing", got)
	}
	// A client that speaks late, within the timeout, is proxied as usual.
	if _, err := io.WriteString(conns[0], "GET / HTTP/1.1\r\nHost: kube\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the speaking client dialled through", func() bool {
		st, _ := h.endpoint("default.demo")
		return st.WaitingConnections == 2 && h.backend("default.demo", "a").ConnectionsOpened == 1
	})
}

// TestCapsRefuseAndSpareOtherEndpoints fills one endpoint to its cap and
// then the balancer to its total with silent clients: connections over a cap
// are closed at once and counted, and an endpoint with room keeps serving.
func TestCapsRefuseAndSpareOtherEndpoints(t *testing.T) {
	a := startFakeAPIServer(t, "a")
	h := newHarnessWith(t, func(c *Config) {
		c.MaxConnections, c.MaxConnectionsPerEndpoint, c.FirstByteTimeout = 10, 4, time.Hour
	})
	ids := []string{"flooded", "second", "third", "spare"}
	addrs := map[string]string{}
	for _, id := range ids {
		h.write(h.endpointConfig(id, a))
		addrs[id] = h.waitListening(id)
	}
	h.waitState("spare", "a", StateHealthy)

	fill := func(id string, n int) {
		dialSilent(t, addrs[id], n)
		eventually(t, id+" holding its connections", func() bool {
			st, _ := h.endpoint(id)
			return st.WaitingConnections == n
		})
	}
	fill("flooded", 4)
	over := dialSilent(t, addrs["flooded"], 3)
	for i, c := range over {
		if err := closedWithin(c, waitTimeout); err != nil {
			t.Fatalf("connection %d over the endpoint's cap: %v", i, err)
		}
	}
	eventually(t, "refusals counted", func() bool {
		st, _ := h.endpoint("flooded")
		return st.RefusedConnections == 3 && st.Connections == 4 && st.MaxConnections == 4
	})
	if body, err := get(newClient(t), addrs["spare"], "/"); err != nil || body != "a" {
		t.Fatalf("GET on another endpoint with one at its cap = %q, %v", body, err)
	}
	eventually(t, "the GET's connection released", func() bool { return h.lb.limits.open.Load() == 4 })

	// 4 + 4 + 2 fill the total of 10: the spare endpoint, under its own cap,
	// is refused too, and serves again once a connection ends.
	fill("second", 4)
	fill("third", 2)
	blocked := dialSilent(t, addrs["spare"], 1)[0]
	if err := closedWithin(blocked, waitTimeout); err != nil {
		t.Fatalf("connection over the total cap: %v", err)
	}
	// The refusal is counted after the connection is closed, as for the
	// flooded endpoint above.
	eventually(t, "spare's refusal counted", func() bool {
		st, _ := h.endpoint("spare")
		return st.RefusedConnections == 1
	})
	h.write(h.endpointConfig("third", a, startFakeAPIServer(t, "b")))
	if err := os.Remove(endpointPath(h.dir, "third")); err != nil {
		t.Fatal(err)
	}
	eventually(t, "removing an endpoint frees its waiting connections", func() bool {
		_, ok := h.endpoint("third")
		return !ok && h.lb.limits.open.Load() == 8
	})
	if body, err := get(newClient(t), addrs["spare"], "/"); err != nil || body != "a" {
		t.Errorf("GET once the total has room = %q, %v", body, err)
	}
}

func TestConnectionCapsValidate(t *testing.T) {
	for name, tc := range map[string]struct {
		c  Config
		ok bool
	}{
		"defaults":                  {Config{}, true},
		"total alone":               {Config{MaxConnections: 100}, true},
		"per endpoint half":         {Config{MaxConnections: 100, MaxConnectionsPerEndpoint: 50}, true},
		"per endpoint over half":    {Config{MaxConnections: 100, MaxConnectionsPerEndpoint: 51}, false},
		"per endpoint over default": {Config{MaxConnectionsPerEndpoint: DefaultMaxConnections}, false},
		"total of one":              {Config{MaxConnections: 1}, false},
		"negative total":            {Config{MaxConnections: -1}, false},
		"negative per endpoint":     {Config{MaxConnectionsPerEndpoint: -1}, false},
		"negative timeout":          {Config{FirstByteTimeout: -time.Second}, false},
	} {
		t.Run(name, func(t *testing.T) {
			tc.c.ConfigDir = t.TempDir()
			err := tc.c.Validate()
			if (err == nil) != tc.ok {
				t.Fatalf("Validate() = %v, want ok=%v", err, tc.ok)
			}
			if err != nil && !errors.Is(err, ErrInvalidConfig) {
				t.Errorf("error %v does not wrap ErrInvalidConfig", err)
			}
		})
	}
}

func TestCapsForFileLimit(t *testing.T) {
	c := Config{MaxConnections: 20000, MaxConnectionsPerEndpoint: 2000}
	for name, tc := range map[string]struct {
		files              uint64
		total, perEndpoint int
	}{
		"enough":              {filesFor(20000), 20000, 2000},
		"hard limit of 20000": {20000, (20000 - fdReserve) / 2, 2000},
		"tight":               {fdReserve + 2000, 1000, 500},
		"below the reserve":   {100, 2, 1},
	} {
		t.Run(name, func(t *testing.T) {
			got := capsFor(c, tc.files)
			if got.MaxConnections != tc.total || got.MaxConnectionsPerEndpoint != tc.perEndpoint {
				t.Errorf("capsFor(%d files) = %d total, %d per endpoint; want %d, %d",
					tc.files, got.MaxConnections, got.MaxConnectionsPerEndpoint, tc.total, tc.perEndpoint)
			}
		})
	}
}
