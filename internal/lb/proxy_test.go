package lb

import (
	"bytes"
	"crypto/rand"
	"errors"
	"io"
	"net"
	"testing"
	"time"
)

func TestProxyPassesTLSThrough(t *testing.T) {
	a := startFakeAPIServer(t, "a")
	h := newHarness(t)
	h.write(h.endpointConfig("default.demo", a))
	addr := h.waitListening("default.demo")

	c := newClient(t)
	resp, err := c.Get("https://" + addr + "/")
	if err != nil {
		t.Fatalf("GET through balancer: %v", err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if string(body) != "a" {
		t.Errorf("body = %q, want %q", body, "a")
	}
	// The handshake happened with the backend itself: TLS is end to end.
	if got := resp.TLS.PeerCertificates[0]; !got.Equal(mustCert(t).cert.Leaf) {
		t.Errorf("peer certificate is not the backend's")
	}
}

func TestProxyLargeBodiesIntact(t *testing.T) {
	a := startFakeAPIServer(t, "a")
	h := newHarness(t)
	h.write(h.endpointConfig("default.demo", a))
	addr := h.waitListening("default.demo")

	payload := make([]byte, 4<<20)
	_, _ = rand.Read(payload)
	resp, err := newClient(t).Post("https://"+addr+"/echo", "application/octet-stream", bytes.NewReader(payload))
	if err != nil {
		t.Fatalf("POST through balancer: %v", err)
	}
	defer resp.Body.Close()
	got, err := io.ReadAll(resp.Body)
	if err != nil || !bytes.Equal(got, payload) {
		t.Fatalf("echoed %d bytes (err %v), want the %d sent", len(got), err, len(payload))
	}
}

func TestLeastConnections(t *testing.T) {
	a, b := startFakeAPIServer(t, "a"), startFakeAPIServer(t, "b")
	h := newHarness(t)
	h.write(h.endpointConfig("default.demo", a))
	addr := h.waitListening("default.demo")
	const n = 4
	var onA []*heldConn
	for range n {
		hc, name := openHeld(t, addr)
		if name != "a" {
			t.Fatalf("held connection landed on %q with only a configured", name)
		}
		onA = append(onA, hc)
	}

	h.write(h.endpointConfig("default.demo", a, b))
	h.waitState("default.demo", "b", StateHealthy)
	for i := range n {
		if _, name := openHeld(t, addr); name != "b" {
			t.Fatalf("new connection %d landed on %q, want b (a has %d, b has %d)", i, name, n, i)
		}
	}
	assertActive(t, h, "default.demo", map[string]int{"a": n, "b": n})
	for i, hc := range onA {
		if name, err := hc.get(); err != nil || name != "a" {
			t.Errorf("connection %d to a after adding b: %q, %v", i, name, err)
		}
	}
}

func assertActive(t *testing.T, h *harness, id string, want map[string]int) {
	t.Helper()
	eventually(t, "active connection counts", func() bool {
		for name, n := range want {
			if h.backend(id, name).ActiveConnections != n {
				return false
			}
		}
		return true
	})
}

// A check can lag a backend that has just become ready, so a backend marked
// unhealthy still takes a connection when no other backend answers.
func TestUnhealthyBackendIsLastResort(t *testing.T) {
	a := startFakeAPIServer(t, "a")
	b := startFakeAPIServer(t, "b")
	a.notReady.Store(true)
	h := newHarness(t)
	h.write(h.endpointConfig("default.demo", a, b))
	addr := h.waitListening("default.demo")
	h.waitState("default.demo", "a", StateUnhealthy)
	h.waitState("default.demo", "b", StateHealthy)

	for range 4 {
		if body, err := get(newClient(t), addr, "/"); err != nil || body != "b" {
			t.Fatalf("GET with b healthy = %q, %v; want b", body, err)
		}
	}
	b.stop()
	if body, err := get(newClient(t), addr, "/"); err != nil || body != "a" {
		t.Errorf("GET with only unhealthy a reachable = %q, %v; want a", body, err)
	}
}

func TestNoReachableBackendClosesClient(t *testing.T) {
	a := startFakeAPIServer(t, "a")
	h := newHarness(t)
	h.write(h.endpointConfig("default.demo", a))
	addr := h.waitListening("default.demo")
	a.stop()
	h.waitState("default.demo", "a", StateUnhealthy)

	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	// A backend is dialled only once the client has spoken, as TLS clients
	// do at once.
	if _, err := conn.Write([]byte{0x16}); err != nil {
		t.Fatal(err)
	}
	_ = conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := conn.Read(make([]byte, 1)); !errors.Is(err, io.EOF) {
		t.Errorf("read = %v, want EOF from an immediate close", err)
	}
}

func TestUnknownBackendServesBeforeFirstCheck(t *testing.T) {
	a := startFakeAPIServer(t, "a")
	h := newHarness(t)
	c := h.endpointConfig("default.demo", a)
	c.HealthCheck.IntervalMillis = int((24 * time.Hour).Milliseconds()) // first check lands in a random spot of the day
	h.write(c)
	addr := h.waitListening("default.demo")

	if st := h.backend("default.demo", "a").State; st != StateUnknown {
		t.Fatalf("state = %s, want unknown before the first check", st)
	}
	if body, err := get(newClient(t), addr, "/"); err != nil || body != "a" {
		t.Errorf("GET = %q, %v; want a", body, err)
	}
}

// TestPipeHalfClose checks that a client's FIN reaches the backend while the
// backend can still answer, as TLS close_notify and request/close clients need.
func TestPipeHalfClose(t *testing.T) {
	client, proxyClient := tcpPair(t)
	proxyServer, server := tcpPair(t)
	done := make(chan struct{})
	go func() { defer close(done); pipe(proxyClient, proxyServer) }()

	_, _ = client.Write([]byte("request"))
	_ = client.(*net.TCPConn).CloseWrite()
	got, err := io.ReadAll(server)
	if err != nil || string(got) != "request" {
		t.Fatalf("server read %q, %v; want the request then EOF", got, err)
	}
	_, _ = server.Write([]byte("response"))
	_ = server.Close()
	if got, err := io.ReadAll(client); err != nil || string(got) != "response" {
		t.Fatalf("client read %q, %v; want the response after its half-close", got, err)
	}
	<-done
}

func tcpPair(t *testing.T) (net.Conn, net.Conn) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	dialed, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	accepted, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = dialed.Close(); _ = accepted.Close() })
	return dialed, accepted
}
