package lb

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestFailingReadyzLeavesRotation(t *testing.T) {
	a, b := startFakeAPIServer(t, "a"), startFakeAPIServer(t, "b")
	h := newHarness(t)
	h.write(h.endpointConfig("default.demo", a, b))
	addr := h.waitListening("default.demo")
	h.waitState("default.demo", "a", StateHealthy)
	h.waitState("default.demo", "b", StateHealthy)

	// The documented bound (fall × interval + timeout, 700 ms here) is not
	// asserted as a time: on a busy machine only the wait for the state is
	// steady. TestHealthObserve pins the fall count itself.
	a.notReady.Store(true)
	h.waitState("default.demo", "a", StateUnhealthy)
	assertAllLandOn(t, addr, "b", 20)

	a.notReady.Store(false)
	h.waitState("default.demo", "a", StateHealthy)
	c := newClient(t)
	eventually(t, "a serving again", func() bool {
		body, _ := get(c, addr, "/")
		return body == "a"
	})
}

func TestStoppedBackendLeavesRotation(t *testing.T) {
	a, b := startFakeAPIServer(t, "a"), startFakeAPIServer(t, "b")
	h := newHarness(t)
	h.write(h.endpointConfig("default.demo", a, b))
	addr := h.waitListening("default.demo")
	h.waitState("default.demo", "a", StateHealthy)
	h.waitState("default.demo", "b", StateHealthy)

	a.stop()
	c := newClient(t)
	// Even before the checks notice, a refused dial falls through to b.
	eventually(t, "a out of rotation", func() bool {
		if body, err := get(c, addr, "/"); err != nil || body != "b" {
			t.Fatalf("request while a stops: %q, %v", body, err)
		}
		return h.backend("default.demo", "a").State == StateUnhealthy
	})
	if st := h.backend("default.demo", "a"); st.LastError == "" {
		t.Errorf("unhealthy backend has no lastError")
	}
	assertAllLandOn(t, addr, "b", 20)
}

func assertAllLandOn(t *testing.T, addr, want string, n int) {
	t.Helper()
	c := newClient(t)
	for i := range n {
		if body, err := get(c, addr, "/"); err != nil || body != want {
			t.Fatalf("request %d: %q, %v; want %q", i, body, err, want)
		}
	}
}

func TestHealthObserve(t *testing.T) {
	fail, ok := errors.New("refused"), error(nil)
	tests := []struct {
		name       string
		fall, rise int
		results    []error
		want       HealthState
	}{
		{"unknown until a result", 2, 1, nil, StateUnknown},
		{"one success is healthy with rise 1", 2, 1, []error{ok}, StateHealthy},
		{"rise 3 needs three in a row", 2, 3, []error{ok, ok}, StateUnknown},
		{"one failure is not enough with fall 2", 2, 1, []error{ok, fail}, StateHealthy},
		{"fall 2 failures in a row", 2, 1, []error{ok, fail, fail}, StateUnhealthy},
		{"a success resets the fall count", 2, 1, []error{ok, fail, ok, fail}, StateHealthy},
		{"unknown goes unhealthy", 2, 1, []error{fail, fail}, StateUnhealthy},
		{"recovers after rise successes", 2, 2, []error{fail, fail, ok, ok}, StateHealthy},
		{"a failure resets the rise count", 2, 2, []error{fail, fail, ok, fail, ok}, StateUnhealthy},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := health{state: StateUnknown}
			for _, err := range tt.results {
				h.observe(err, tt.fall, tt.rise)
			}
			if h.state != tt.want {
				t.Errorf("state = %s, want %s", h.state, tt.want)
			}
			lastFailed := len(tt.results) > 0 && tt.results[len(tt.results)-1] != nil
			if (h.lastErr != "") != lastFailed {
				t.Errorf("lastErr = %q after results %v", h.lastErr, tt.results)
			}
		})
	}
}

// TestUnreadableCAKeepsPreviousCA guards static stability: a CA file lost
// or garbled on disk must not fail every check of backends that are fine.
func TestUnreadableCAKeepsPreviousCA(t *testing.T) {
	a := startFakeAPIServer(t, "a")
	h := newHarness(t)
	h.write(h.endpointConfig("default.demo", a))
	h.waitListening("default.demo")
	h.waitState("default.demo", "a", StateHealthy)

	if err := os.WriteFile(h.caFile(), []byte("garbage"), 0o600); err != nil {
		t.Fatal(err)
	}
	eventually(t, "CA error reported", func() bool { st, _ := h.endpoint("default.demo"); return st.Error != "" })
	waitChecks(t, a, 3)
	if st := h.backend("default.demo", "a"); st.State != StateHealthy {
		t.Fatalf("backend %s after CA garbled, want healthy: %s", st.State, st.LastError)
	}

	if err := os.WriteFile(h.caFile(), mustCert(t).pem, 0o600); err != nil {
		t.Fatal(err)
	}
	eventually(t, "CA error cleared", func() bool { st, _ := h.endpoint("default.demo"); return st.Error == "" })
}

func TestMissingCAFailsChecks(t *testing.T) {
	a := startFakeAPIServer(t, "a")
	h := newHarness(t)
	c := h.endpointConfig("default.demo", a)
	c.HealthCheck.CAFile = filepath.Join(t.TempDir(), "missing.crt")
	h.write(c)
	h.waitState("default.demo", "a", StateUnhealthy)
	if st := h.backend("default.demo", "a"); !strings.Contains(st.LastError, "CA") {
		t.Errorf("lastError = %q, want it to name the CA", st.LastError)
	}
}

// waitChecks waits until f has answered n more health checks.
func waitChecks(t *testing.T, f *fakeAPIServer, n int64) {
	t.Helper()
	target := f.checks.Load() + n
	eventually(t, "health checks", func() bool { return f.checks.Load() >= target })
}
