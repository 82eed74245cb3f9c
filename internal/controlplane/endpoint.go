package controlplane

import "github.com/cellplane/cellplane/internal/lb"

// EndpointID names the cluster's endpoint file in the cell's load balancer.
func (p *Plan) EndpointID() string { return p.in.Namespace + "." + p.in.Name }

// EndpointMaxConnectionAge is how long, in seconds and ±10%, the endpoint keeps
// a client connection before closing it so that it reconnects, possibly to
// another API server.
const EndpointMaxConnectionAge = 30 * 60

// EndpointConfig is the load balancer's view of the cluster: its stable address in
// front of every API server, health-checked on /readyz against the cluster CA.
// The check leaves out the API servers' KMS check: a plugin problem is
// reported by the cluster's KMSPluginsReady condition rather than taking
// every API server out of the endpoint at once.
func (p *Plan) EndpointConfig() lb.EndpointConfig {
	c := lb.EndpointConfig{
		ID:          p.EndpointID(),
		Listen:      p.EndpointAddress(),
		HealthCheck: lb.HealthCheckConfig{Path: "/readyz?" + kmsHealthExclude, CAFile: p.pki.CABundle, IntervalMillis: 1000, FallCount: 2, RiseCount: 1},
		// Busy HTTP/2 clients rebalance through --goaway-chance; this catches
		// the quiet long-lived ones (watch-only), whose clients re-watch.
		MaxConnectionAgeSeconds: EndpointMaxConnectionAge,
	}
	for _, m := range p.Members(KindAPIServer) {
		c.Backends = append(c.Backends, lb.BackendConfig{Name: m.Name(), Address: m.Address()})
	}
	return c
}
