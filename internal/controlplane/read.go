package controlplane

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"time"
)

// readTimeout bounds one read of an API server's metrics or objects: larger
// than a health check's, since a busy server's /metrics runs to megabytes.
const readTimeout = 15 * time.Second

// maxReadBytes bounds what Read takes of one answer.
const maxReadBytes = 64 << 20

// Read GETs path from API server m directly (not through the load
// balancer) as the cluster's admin: its /metrics, which are per server, or
// a list of objects.
func (pr *Prober) Read(ctx context.Context, m Member, path string) ([]byte, error) {
	ctx, cancel := context.WithTimeout(ctx, readTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "https://"+m.Address()+path, nil)
	if err != nil {
		return nil, err
	}
	// The client's own timeout is a health check's; this read has its own.
	c := *pr.kube
	c.Timeout = readTimeout
	resp, err := c.Do(req)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrUnhealthy, err)
	}
	defer resp.Body.Close() //nolint:errcheck // read-only
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxReadBytes))
	if err != nil {
		return nil, fmt.Errorf("reading %s from %s: %w", path, m.Name(), err)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("%w: %s %s answered %s", ErrUnhealthy, m.Name(), path, resp.Status)
	}
	return body, nil
}
