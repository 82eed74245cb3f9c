package lb

import (
	"io"
	"net"
	"strings"
	"testing"
	"time"
)

func TestReloadAddChangeRemove(t *testing.T) {
	a, b := startFakeAPIServer(t, "a"), startFakeAPIServer(t, "b")
	h := newHarness(t)
	c := newClient(t)

	h.write(h.endpointConfig("one", a))
	one := h.waitListening("one")
	held, name := openHeld(t, one)
	if name != "a" {
		t.Fatalf("held connection on %q, want a", name)
	}

	h.write(h.endpointConfig("two", b))
	if body, err := get(c, h.waitListening("two"), "/"); err != nil || body != "b" {
		t.Fatalf("new endpoint two: %q, %v", body, err)
	}

	t.Run("adding a backend keeps listener and connections", func(t *testing.T) {
		h.write(h.endpointConfig("one", a, b))
		eventually(t, "b added to one", func() bool { return h.backend("one", "b").Name == "b" })
		if st, _ := h.endpoint("one"); st.Listen != one {
			t.Errorf("listener moved from %s to %s", one, st.Listen)
		}
		if body, err := held.get(); err != nil || body != "a" {
			t.Errorf("held connection after change: %q, %v", body, err)
		}
	})

	t.Run("removing a backend closes its connections", func(t *testing.T) {
		h.write(h.endpointConfig("one", b))
		eventually(t, "held connection to a closed", func() bool {
			_ = held.conn.SetReadDeadline(time.Now().Add(50 * time.Millisecond))
			_, err := held.br.ReadByte()
			return err == io.EOF
		})
		assertAllLandOn(t, one, "b", 5)
	})

	t.Run("removing the file closes the listener", func(t *testing.T) {
		if err := RemoveEndpointFile(h.dir, "one"); err != nil {
			t.Fatal(err)
		}
		eventually(t, "endpoint one gone", func() bool { _, ok := h.endpoint("one"); return !ok })
		if conn, err := net.Dial("tcp", one); err == nil {
			conn.Close()
			t.Errorf("dial %s succeeded after removal", one)
		}
		if body, err := get(c, h.waitListening("two"), "/"); err != nil || body != "b" {
			t.Errorf("endpoint two after removing one: %q, %v", body, err)
		}
	})
}

func TestReloadMovesListenAddress(t *testing.T) {
	a := startFakeAPIServer(t, "a")
	h := newHarness(t)
	cfg := h.endpointConfig("one", a)
	h.write(cfg)
	old := h.waitListening("one")

	cfg.Listen = freeAddr(t)
	h.write(cfg)
	eventually(t, "listener moved", func() bool { st, _ := h.endpoint("one"); return st.Listen == cfg.Listen && st.Listening })
	assertAllLandOn(t, cfg.Listen, "a", 2)
	if conn, err := net.Dial("tcp", old); err == nil {
		conn.Close()
		t.Errorf("old address %s still accepts", old)
	}
}

func TestBadJSONDoesNotDisturbOthers(t *testing.T) {
	a := startFakeAPIServer(t, "a")
	h := newHarness(t)
	h.write(h.endpointConfig("good", a))
	addr := h.waitListening("good")

	h.writeRaw("bad.json", `{"id":"bad","listen":`)
	eventually(t, "bad endpoint reported", func() bool { st, ok := h.endpoint("bad"); return ok && st.Error != "" })
	if st, _ := h.endpoint("bad"); st.Listening {
		t.Errorf("bad endpoint listening")
	}
	assertAllLandOn(t, addr, "a", 3)

	t.Run("a good file turned bad keeps its last config", func(t *testing.T) {
		h.writeRaw("good.json", `not json`)
		eventually(t, "error reported on good", func() bool { st, _ := h.endpoint("good"); return st.Error != "" })
		if st, _ := h.endpoint("good"); !st.Listening || st.Listen != addr {
			t.Errorf("status after corruption = %+v, want still listening on %s", st, addr)
		}
		assertAllLandOn(t, addr, "a", 3)
	})

	t.Run("fixing the file clears the error", func(t *testing.T) {
		h.write(h.endpointConfig("bad", a))
		h.waitListening("bad")
		if st, _ := h.endpoint("bad"); st.Error != "" {
			t.Errorf("error after fix = %q", st.Error)
		}
	})
}

func TestListenFailureIsRetried(t *testing.T) {
	a := startFakeAPIServer(t, "a")
	h := newHarness(t)
	squatter, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer squatter.Close()
	cfg := h.endpointConfig("taken", a)
	cfg.Listen = squatter.Addr().String()
	h.write(cfg)
	h.write(h.endpointConfig("free", a))

	eventually(t, "listen error reported", func() bool { st, _ := h.endpoint("taken"); return st.Error != "" })
	if st, _ := h.endpoint("taken"); st.Listening || !strings.Contains(st.Error, cfg.Listen) {
		t.Errorf("status = %+v, want not listening with an error naming %s", st, cfg.Listen)
	}
	assertAllLandOn(t, h.waitListening("free"), "a", 2)

	squatter.Close()
	assertAllLandOn(t, h.waitListening("taken"), "a", 2)
}

func TestIgnoresTempAndForeignFiles(t *testing.T) {
	h := newHarness(t)
	h.writeRaw(".one.json.123.tmp", `{`)
	h.writeRaw(".hidden.json", `{`)
	h.writeRaw("notes.txt", `{`)
	h.writeRaw("ca.crt", `{`)
	h.lb.Reload()
	if st := h.lb.Status(); len(st) != 0 {
		t.Errorf("status = %+v, want no endpoints", st)
	}
}

// freeAddr returns a loopback address that was free a moment ago, for the
// rare test that needs to know an address before the balancer binds it.
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// TestReloadAppliesHealthSettingsAtOnce changes a day-long check interval to
// a short one: the new settings must not wait out the old interval.
func TestReloadAppliesHealthSettingsAtOnce(t *testing.T) {
	a := startFakeAPIServer(t, "a")
	h := newHarness(t)
	cfg := h.endpointConfig("one", a)
	cfg.HealthCheck.IntervalMillis = int((24 * time.Hour).Milliseconds())
	h.write(cfg)
	h.waitListening("one")
	if st := h.backend("one", "a").State; st != StateUnknown {
		t.Fatalf("state = %s before the first check, want unknown", st)
	}

	cfg.HealthCheck.IntervalMillis = int(testInterval.Milliseconds())
	h.write(cfg)
	h.waitState("one", "a", StateHealthy)
}
