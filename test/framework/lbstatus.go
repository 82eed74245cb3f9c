package framework

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/url"

	"github.com/cellplane/cellplane/internal/ipam"
	"github.com/cellplane/cellplane/internal/lb"
)

// EndpointBackends reads the cell load balancer's view of a cluster endpoint
// (an https URL): each API server's health, drain and proxied connections, by
// name.
func EndpointBackends(ctx context.Context, endpoint string) (map[string]lb.BackendStatus, error) {
	ep, err := EndpointStatus(ctx, endpoint)
	if err != nil {
		return nil, err
	}
	out := map[string]lb.BackendStatus{}
	for _, b := range ep.Backends {
		out[b.Name] = b
	}
	return out, nil
}

// EndpointStatus reads the cell load balancer's status of a cluster endpoint
// (an https URL). The cell's balancer serves its status on the cell's store
// address, 127.<cell>.0.1, and the cell's endpoints on 127.<cell>.128+.x.
func EndpointStatus(ctx context.Context, endpoint string) (lb.EndpointStatus, error) {
	u, err := url.Parse(endpoint)
	if err != nil {
		return lb.EndpointStatus{}, err
	}
	ip := net.ParseIP(u.Hostname()).To4()
	if ip == nil {
		return lb.EndpointStatus{}, fmt.Errorf("endpoint %s has no IPv4 host", endpoint)
	}
	status := "http://" + ipam.HostPort(net.IPv4(127, ip[1], 0, 1), ipam.LoadBalancerStatusPort) + "/status"
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, status, nil)
	if err != nil {
		return lb.EndpointStatus{}, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return lb.EndpointStatus{}, err
	}
	defer func() { _ = resp.Body.Close() }() // read only: the decoder reports what went wrong
	var eps []lb.EndpointStatus
	if err := json.NewDecoder(resp.Body).Decode(&eps); err != nil {
		return lb.EndpointStatus{}, fmt.Errorf("reading %s: %w", status, err)
	}
	for _, ep := range eps {
		if ep.Listen == u.Host {
			return ep, nil
		}
	}
	return lb.EndpointStatus{}, fmt.Errorf("the load balancer has no endpoint %s", u.Host)
}
