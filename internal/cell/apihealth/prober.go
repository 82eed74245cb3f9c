package apihealth

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/cellplane/cellplane/api/v1alpha1"
)

// DefaultInterval is how often each cluster is probed.
const DefaultInterval = 2 * time.Second

// Prober probes the cell's ACTIVE clusters. It is a manager Runnable.
type Prober struct {
	Cell     client.Reader // the cell's store
	Logger   *slog.Logger
	Interval time.Duration // DefaultInterval when zero
	Timeout  time.Duration // Interval when zero

	mu      sync.Mutex
	counts  map[string]*v1alpha1.ClusterAPIHealth
	clients map[string]*http.Client // by CA data
}

// Start probes until ctx ends.
func (p *Prober) Start(ctx context.Context) error {
	interval := p.Interval
	if interval <= 0 {
		interval = DefaultInterval
	}
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		if err := p.Round(ctx); err != nil && ctx.Err() == nil {
			p.Logger.Debug("probing cluster APIs", "err", err)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

// Round probes every ACTIVE cluster once, all at once.
func (p *Prober) Round(ctx context.Context) error {
	var clusters v1alpha1.ClusterList
	if err := p.Cell.List(ctx, &clusters); err != nil {
		return fmt.Errorf("listing the cell's clusters: %w", err)
	}
	var wg sync.WaitGroup
	live := map[string]bool{}
	for i := range clusters.Items {
		c := &clusters.Items[i]
		if c.Status.Status != v1alpha1.StatusActive || c.Status.Endpoint == "" || !c.DeletionTimestamp.IsZero() {
			continue
		}
		key := c.Namespace + "/" + c.Name
		live[key] = true
		hc, err := p.client(c.Status.CertificateAuthorityData)
		if err != nil {
			continue
		}
		wg.Go(func() {
			took, err := p.probe(ctx, hc, c.Status.Endpoint)
			p.record(key, took, err)
		})
	}
	wg.Wait()
	p.forget(live)
	return nil
}

func (p *Prober) probe(ctx context.Context, hc *http.Client, endpoint string) (time.Duration, error) {
	timeout := p.Timeout
	if timeout <= 0 {
		timeout = max(p.Interval, DefaultInterval)
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, strings.TrimSuffix(endpoint, "/")+"/readyz", nil)
	if err != nil {
		return 0, err
	}
	start := time.Now()
	resp, err := hc.Do(req)
	if err != nil {
		return 0, err
	}
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return 0, errors.New(resp.Status)
	}
	return time.Since(start), nil
}

func (p *Prober) record(key string, took time.Duration, err error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.counts == nil {
		p.counts = map[string]*v1alpha1.ClusterAPIHealth{}
	}
	h := p.counts[key]
	if h == nil {
		h = &v1alpha1.ClusterAPIHealth{Cluster: key}
		p.counts[key] = h
	}
	h.Requests++
	if err != nil {
		h.Errors++
		return
	}
	h.LatencyMillisecondsSum += took.Milliseconds()
}

// forget drops the counters of clusters no longer ACTIVE in the cell.
func (p *Prober) forget(live map[string]bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for k := range p.counts {
		if !live[k] {
			delete(p.counts, k)
		}
	}
}

// client is an HTTPS client trusting one cluster's CA bundle. Each probe
// dials anew (no keep-alive), so it goes through the balancer's choice of
// API server like a new client would.
func (p *Prober) client(caData string) (*http.Client, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if hc, ok := p.clients[caData]; ok {
		return hc, nil
	}
	pem, err := base64.StdEncoding.DecodeString(caData)
	if err != nil {
		return nil, fmt.Errorf("decoding CA bundle: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, errors.New("CA bundle has no certificate")
	}
	hc := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12},
		DisableKeepAlives: true}}
	if p.clients == nil {
		p.clients = map[string]*http.Client{}
	}
	p.clients[caData] = hc
	return hc, nil
}

// Snapshot is every measured cluster's counters, by cluster.
func (p *Prober) Snapshot() []v1alpha1.ClusterAPIHealth {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := make([]v1alpha1.ClusterAPIHealth, 0, len(p.counts))
	for _, h := range p.counts {
		out = append(out, *h)
	}
	slices.SortFunc(out, func(a, b v1alpha1.ClusterAPIHealth) int { return strings.Compare(a.Cluster, b.Cluster) })
	return out
}
