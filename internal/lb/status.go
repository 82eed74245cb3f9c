package lb

import (
	"encoding/json"
	"net/http"
)

// EndpointStatus is one endpoint as served by GET /status.
type EndpointStatus struct {
	ID string `json:"id"`
	// Listen is the bound address while listening, else the configured one.
	Listen    string `json:"listen"`
	Listening bool   `json:"listening"`
	// Error says why the file's current content is not fully in effect:
	// it does not parse (the last good config keeps serving) or its address
	// cannot be bound.
	Error string `json:"error"`
	// Connections counts the open client connections, WaitingConnections
	// those of them that have sent nothing yet (no backend is dialled for
	// them), and MaxConnections is the endpoint's cap.
	Connections        int `json:"connections"`
	WaitingConnections int `json:"waitingConnections"`
	MaxConnections     int `json:"maxConnections"`
	// RefusedConnections counts the connections closed at once because the
	// endpoint or the whole balancer was at its cap; IdleClosedConnections
	// those closed for sending nothing within the first-byte timeout. Both
	// count from the endpoint's start.
	RefusedConnections    int64           `json:"refusedConnections"`
	IdleClosedConnections int64           `json:"idleClosedConnections"`
	Backends              []BackendStatus `json:"backends"`
}

// BackendStatus is one backend of an EndpointStatus.
type BackendStatus struct {
	Name              string      `json:"name"`
	Address           string      `json:"address"`
	Healthy           bool        `json:"healthy"`
	State             HealthState `json:"state"`
	ActiveConnections int         `json:"activeConnections"`
	// ConnectionsOpened counts the connections dialled to the backend for
	// clients since it was added; health checks are not counted.
	ConnectionsOpened int64 `json:"connectionsOpened"`
	// Draining is true while the backend is out of rotation by configuration.
	Draining bool `json:"draining"`
	// LastError is the error of the latest check, empty once one passes.
	LastError string `json:"lastError"`
}

func (b *Balancer) statusHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /status", b.serveStatus)
	mux.HandleFunc("GET /healthz", serveHealthz)
	return mux
}

func (b *Balancer) serveStatus(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	if err := json.NewEncoder(w).Encode(b.Status()); err != nil {
		b.log.Debug("writing status response", "err", err)
	}
}

func serveHealthz(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	_, _ = w.Write([]byte("ok"))
}
