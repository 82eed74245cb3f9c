package lb

import (
	"net"
	"testing"

	"golang.org/x/sys/unix"
)

func TestSocketOptions(t *testing.T) {
	a := startFakeAPIServer(t, "a")
	h := newHarness(t)
	h.write(h.endpointConfig("default.demo", a))
	openHeld(t, h.waitListening("default.demo"))

	s := onlySession(t, h, "default.demo")
	tests := []struct {
		name       string
		conn       net.Conn
		level, opt int
		want       int
	}{
		{"client keepalive", s.client, unix.SOL_SOCKET, unix.SO_KEEPALIVE, 1},
		{"client keepalive idle", s.client, unix.IPPROTO_TCP, unix.TCP_KEEPIDLE, 15},
		{"backend keepalive", s.server, unix.SOL_SOCKET, unix.SO_KEEPALIVE, 1},
		{"backend keepalive idle", s.server, unix.IPPROTO_TCP, unix.TCP_KEEPIDLE, 15},
		{"backend user timeout", s.server, unix.IPPROTO_TCP, unix.TCP_USER_TIMEOUT, 20000},
	}
	for _, tt := range tests {
		if got := sockopt(t, tt.conn, tt.level, tt.opt); got != tt.want {
			t.Errorf("%s = %d, want %d", tt.name, got, tt.want)
		}
	}
}

func onlySession(t *testing.T, h *harness, id string) *session {
	t.Helper()
	h.lb.mu.Lock()
	b := h.lb.sources[id].ep.candidates()[0]
	h.lb.mu.Unlock()
	b.mu.Lock()
	defer b.mu.Unlock()
	for s := range b.sessions {
		return s
	}
	t.Fatal("no session")
	return nil
}

func sockopt(t *testing.T, c net.Conn, level, opt int) int {
	t.Helper()
	raw, err := c.(*net.TCPConn).SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	var v int
	var serr error
	if err := raw.Control(func(fd uintptr) { v, serr = unix.GetsockoptInt(int(fd), level, opt) }); err != nil || serr != nil {
		t.Fatalf("getsockopt: %v %v", err, serr)
	}
	return v
}
