package framework

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"sync"

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
	storeIP := net.IPv4(127, ip[1], 0, 1)
	hc, err := statusClient(storeIP)
	if err != nil {
		return lb.EndpointStatus{}, err
	}
	defer hc.CloseIdleConnections()
	status := "https://" + ipam.HostPort(storeIP, ipam.LoadBalancerStatusPort) + "/status"
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, status, nil)
	if err != nil {
		return lb.EndpointStatus{}, err
	}
	resp, err := hc.Do(req)
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

// dataDirs are the data directories of the instances this test binary
// started: where statusClient finds a cell's client certificate.
var dataDirs struct {
	mu   sync.Mutex
	dirs []string
}

func registerDataDir(dir string) {
	dataDirs.mu.Lock()
	defer dataDirs.mu.Unlock()
	if !slices.Contains(dataDirs.dirs, dir) {
		dataDirs.dirs = append(dataDirs.dirs, dir)
	}
}

// statusClient returns a client of the load balancer status server on
// storeIP: the balancer serves mutual TLS only, with the certificate of its
// cell's store, so the client holds that store's admin certificate, found in
// the cell's directory of a running instance.
func statusClient(storeIP net.IP) (*http.Client, error) {
	dataDirs.mu.Lock()
	dirs := slices.Clone(dataDirs.dirs)
	dataDirs.mu.Unlock()
	for _, d := range dirs {
		certs, _ := filepath.Glob(filepath.Join(d, "cells", "*", "store", "pki", "lb-status.crt"))
		for _, c := range certs {
			if servesIP(c, storeIP) {
				return StatusClientFor(filepath.Dir(c))
			}
		}
	}
	return nil, fmt.Errorf("no running instance has a cell store on %s", storeIP)
}

func servesIP(certFile string, ip net.IP) bool {
	data, err := os.ReadFile(filepath.Clean(certFile))
	if err != nil {
		return false
	}
	block, _ := pem.Decode(data)
	if block == nil {
		return false
	}
	cert, err := x509.ParseCertificate(block.Bytes)
	return err == nil && slices.ContainsFunc(cert.IPAddresses, ip.Equal)
}

// StatusClientFor returns an HTTPS client that trusts the CA in pkiDir (a
// cell store's pki directory) and presents its admin certificate.
func StatusClientFor(pkiDir string) (*http.Client, error) {
	pair, err := tls.LoadX509KeyPair(filepath.Join(pkiDir, "admin.crt"), filepath.Join(pkiDir, "admin.key"))
	if err != nil {
		return nil, fmt.Errorf("loading the cell's client certificate: %w", err)
	}
	caPEM, err := os.ReadFile(filepath.Clean(filepath.Join(pkiDir, "ca.crt")))
	if err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(caPEM)
	return &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{
		RootCAs: pool, Certificates: []tls.Certificate{pair}, MinVersion: tls.VersionTLS12}}}, nil
}
