package store

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"k8s.io/client-go/rest"

	"github.com/cellplane/cellplane/internal/poll"
)

// ErrNotReady is returned when a store's API server does not become ready in time.
var ErrNotReady = errors.New("store API server not ready")

// readyTimeout bounds the wait for a store; a cold kube-apiserver on a loaded
// two-core machine needs well under this.
const readyTimeout = 90 * time.Second

func waitReady(parent context.Context, cfg *rest.Config, logDir string, timeout time.Duration) error {
	hc, err := rest.HTTPClientFor(cfg)
	if err != nil {
		return fmt.Errorf("building store client: %w", err)
	}
	// Each probe is bounded by itself: one cut short by the overall deadline
	// would say nothing about the server.
	err = poll.Until(parent, timeout, 100*time.Millisecond, func() error {
		ctx, cancel := context.WithTimeout(parent, probeTimeout)
		defer cancel()
		return probe(ctx, hc, cfg.Host+"/readyz")
	})
	switch {
	case err == nil:
		return nil
	case parent.Err() != nil:
		return fmt.Errorf("waiting for the store API server: %w", parent.Err())
	}
	return fmt.Errorf("%w: %w (see logs in %s)", ErrNotReady, err, logDir)
}

// probeTimeout bounds one readiness check.
const probeTimeout = 5 * time.Second

func probe(ctx context.Context, hc *http.Client, url string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	resp, err := hc.Do(req)
	if err != nil {
		return err
	}
	_ = resp.Body.Close() // only the status is wanted; the body is not read
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s answered %s", url, resp.Status)
	}
	return nil
}
