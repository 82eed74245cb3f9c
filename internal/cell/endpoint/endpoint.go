// Package endpoint writes each cluster's endpoint into the cell's load
// balancer: the cluster's stable address in front of its API servers, with
// the API servers of zones out of rotation drained. The cluster's pass and a
// zone evacuation both write it; a lock per cluster keeps a pass that began
// before a zone went out from overwriting the drain the evacuation wrote
// meanwhile.
package endpoint

import (
	"fmt"
	"sync"

	"github.com/cellplane/cellplane/internal/controlplane"
	"github.com/cellplane/cellplane/internal/lb"
)

// shiftDrainSeconds is how long the endpoint takes to close the connections of
// API servers in a shifted zone, each at a random moment of it: within the 10 s
// an evacuation may take, and spread so that clients do not all reconnect at
// once.
const shiftDrainSeconds = 5

// impairedDrainSeconds replaces shiftDrainSeconds for a zone the cell's probes
// found impaired: its connections are slow or dead already, and every second
// they stay is a second of stalled requests and watches.
const impairedDrainSeconds = 1

// Zones says which zones are out of rotation.
type Zones interface {
	Shifted(zone string) bool
	Impaired() []string
}

// Writer writes the endpoint files of one cell's clusters.
type Writer struct {
	// Dir is the load balancer's endpoint directory.
	Dir string
	// Zones may be nil: no zone is ever out.
	Zones Zones

	locks   sync.Map // cluster UID → *sync.Mutex
	drained sync.Map // cluster UID → member name a rollout drains
}

// Drain takes the API server member of p out of rotation for a rollout, or
// with member "" puts it back, and writes the endpoint.
func (w *Writer) Drain(p *controlplane.Plan, member string) error {
	if member == "" {
		w.drained.Delete(p.UID())
	} else {
		w.drained.Store(p.UID(), member)
	}
	return w.Write(p)
}

// Write writes the endpoint of the control plane p describes, draining the
// API servers of zones out of rotation. The zones are read under the
// cluster's lock, so the last writer always wrote the current zones.
func (w *Writer) Write(p *controlplane.Plan) error {
	mu, _ := w.locks.LoadOrStore(p.UID(), &sync.Mutex{})
	mu.(*sync.Mutex).Lock()
	defer mu.(*sync.Mutex).Unlock()
	cfg := p.EndpointConfig()
	cfg.DrainSeconds = shiftDrainSeconds
	if v, ok := w.drained.Load(p.UID()); ok {
		for i, m := range p.Members(controlplane.KindAPIServer) {
			if m.Name() == v.(string) {
				// The endpoint cuts none of its connections: the server
				// closes them gracefully when it stops (HTTP/2 GOAWAY after
				// the requests in flight), and clients move to the other
				// server without a failed request.
				cfg.Backends[i].Draining, cfg.Backends[i].KeepConnections = true, true
			}
		}
	}
	if w.Zones != nil {
		for i, m := range p.Members(controlplane.KindAPIServer) {
			if w.Zones.Shifted(m.Zone) {
				cfg.Backends[i].Draining, cfg.Backends[i].KeepConnections = true, false
			}
		}
		if len(w.Zones.Impaired()) > 0 {
			cfg.DrainSeconds = impairedDrainSeconds
		}
	}
	if err := lb.WriteEndpointFile(w.Dir, cfg); err != nil {
		return fmt.Errorf("configuring endpoint: %w", err)
	}
	return nil
}

// Remove takes the cluster's endpoint out of the load balancer, first thing
// when it is deleted, so tenants see it go away cleanly.
func (w *Writer) Remove(p *controlplane.Plan) error {
	defer w.locks.Delete(p.UID())
	w.drained.Delete(p.UID())
	return lb.RemoveEndpointFile(w.Dir, p.EndpointID())
}
