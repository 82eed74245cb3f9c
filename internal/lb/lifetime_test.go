package lb

import (
	"testing"
	"time"
)

// eventuallyLB polls cond until it holds or a few seconds pass.
func eventuallyLB(t *testing.T, what string, cond func() bool) time.Duration {
	t.Helper()
	start := time.Now()
	for !cond() {
		if time.Since(start) > waitTimeout {
			t.Fatalf("%s: not within %s", what, waitTimeout)
		}
		time.Sleep(20 * time.Millisecond)
	}
	return time.Since(start)
}

func TestDrainingBackendLeavesRotationAndClosesItsConnections(t *testing.T) {
	a, b := startFakeAPIServer(t, "a"), startFakeAPIServer(t, "b")
	h := newHarness(t)
	c := h.endpointConfig("default.demo", a, b)
	h.write(c)
	addr := h.waitListening("default.demo")
	h.waitState("default.demo", "a", StateHealthy)
	h.waitState("default.demo", "b", StateHealthy)
	var onB []*heldConn
	for range 4 {
		hc, name := openHeld(t, addr)
		if name == "b" {
			onB = append(onB, hc)
		}
	}
	if len(onB) != 2 {
		t.Fatalf("%d of 4 held connections on b, want 2 (fewest connections first)", len(onB))
	}

	c.Backends[1].Draining, c.DrainSeconds = true, 1
	h.write(c)
	took := eventuallyLB(t, "b drained", func() bool {
		st := h.backend("default.demo", "b")
		return st.Draining && st.ActiveConnections == 0
	})
	if took > 3*time.Second {
		t.Errorf("draining over 1 s took %s", took)
	}
	for _, hc := range onB {
		if _, err := hc.get(); err == nil {
			t.Errorf("a connection to the drained backend still answers")
		}
	}
	if st := h.backend("default.demo", "b"); st.State != StateHealthy {
		t.Errorf("draining changed b's health to %s", st.State)
	}
	for range 4 {
		if body, err := get(newClient(t), addr, "/"); err != nil || body != "a" {
			t.Errorf("new connection while b drains = %q, %v; want a", body, err)
		}
	}

	// The only backend left answering is used even while draining.
	a.stop()
	h.waitState("default.demo", "a", StateUnhealthy)
	if body, err := get(newClient(t), addr, "/"); err != nil || body != "b" {
		t.Errorf("with a down, GET = %q, %v; want the draining b as a last resort", body, err)
	}

	c.Backends[1].Draining = false
	h.write(c)
	eventuallyLB(t, "b back in rotation", func() bool { return !h.backend("default.demo", "b").Draining })
	held, name := openHeld(t, addr)
	time.Sleep(1500 * time.Millisecond) // longer than the old drain window
	if _, err := held.get(); err != nil || name != "b" {
		t.Errorf("after the drain ended a connection to %s got %v", name, err)
	}
}

func TestMaxConnectionAgeClosesOldConnections(t *testing.T) {
	a := startFakeAPIServer(t, "a")
	h := newHarness(t)
	c := h.endpointConfig("default.demo", a)
	c.MaxConnectionAgeSeconds = 1
	h.write(c)
	addr := h.waitListening("default.demo")
	h.waitState("default.demo", "a", StateHealthy)
	var held []*heldConn
	for range 3 {
		hc, _ := openHeld(t, addr)
		held = append(held, hc)
	}
	opened := time.Now()
	eventuallyLB(t, "connections closed at their maximum age", func() bool {
		return h.backend("default.demo", "a").ActiveConnections == 0
	})
	// 1 s ±10%, found by a reaper that runs every 500 ms.
	if age := time.Since(opened); age < 850*time.Millisecond || age > 2*time.Second {
		t.Errorf("connections closed after %s, want about 1 s", age)
	}
	for _, hc := range held {
		if _, err := hc.get(); err == nil {
			t.Errorf("a connection past its maximum age still answers")
		}
	}
	if body, err := get(newClient(t), addr, "/"); err != nil || body != "a" {
		t.Errorf("a new connection after the old ones were closed = %q, %v", body, err)
	}
}
