package lb

import (
	"encoding/json"
	"io"
	"net/http"
	"testing"
)

func TestStatusEndpoint(t *testing.T) {
	a, b := startFakeAPIServer(t, "a"), startFakeAPIServer(t, "b")
	b.notReady.Store(true)
	h := newHarness(t)
	h.write(h.endpointConfig("default.demo", a, b))
	addr := h.waitListening("default.demo")
	h.waitState("default.demo", "a", StateHealthy)
	h.waitState("default.demo", "b", StateUnhealthy)
	for range 2 {
		openHeld(t, addr)
	}

	var got []map[string]any
	eventually(t, "status shows two connections on a", func() bool {
		got = fetchStatus(t, h)
		return len(got) == 1 && statusBackend(got[0], "a")["activeConnections"] == 2.0
	})
	ep := got[0]
	if ep["id"] != "default.demo" || ep["listen"] != addr || ep["listening"] != true || ep["error"] != "" {
		t.Errorf("endpoint = %v", ep)
	}
	if ba := statusBackend(ep, "a"); ba["healthy"] != true || ba["state"] != "healthy" || ba["address"] != a.addr() {
		t.Errorf("backend a = %v", ba)
	}
	if bb := statusBackend(ep, "b"); bb["healthy"] != false || bb["state"] != "unhealthy" || bb["lastError"] == "" || bb["activeConnections"] != 0.0 {
		t.Errorf("backend b = %v", bb)
	}
}

func TestStatusHealthz(t *testing.T) {
	h := newHarness(t)
	resp, err := h.status.client.Get("https://" + h.lb.StatusAddr() + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK || string(body) != "ok" {
		t.Errorf("healthz = %s %q", resp.Status, body)
	}
}

// fetchStatus decodes into maps so the test pins the wire field names.
func fetchStatus(t *testing.T, h *harness) []map[string]any {
	t.Helper()
	resp, err := h.status.client.Get("https://" + h.lb.StatusAddr() + "/status")
	if err != nil {
		t.Fatalf("GET /status: %v", err)
	}
	defer resp.Body.Close()
	var out []map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		t.Fatalf("decoding /status: %v", err)
	}
	return out
}

func statusBackend(ep map[string]any, name string) map[string]any {
	backends, _ := ep["backends"].([]any)
	for _, b := range backends {
		if m, _ := b.(map[string]any); m["name"] == name {
			return m
		}
	}
	return nil
}
