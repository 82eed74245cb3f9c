package zonehealth

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"syscall"
	"testing"
	"time"

	"github.com/cellplane/cellplane/internal/poll"
)

var discard = slog.New(slog.DiscardHandler)

// round is one round's results by zone, as the detector takes them.
type round = map[string][]result

func oks(latency time.Duration, n int) []result {
	rs := make([]result, n)
	for i := range rs {
		rs[i] = result{latency: latency}
	}
	return rs
}

func errs(err error, n int) []result {
	rs := make([]result, n)
	for i := range rs {
		rs[i] = result{err: err}
	}
	return rs
}

func timeouts(n int) []result {
	return errs(fmt.Errorf("TLS handshake with x: %w", context.DeadlineExceeded), n)
}

func refusals(n int) []result {
	return errs(fmt.Errorf("connecting to x: %w: %w", ErrRefused, syscall.ECONNREFUSED), n)
}

func resets(n int) []result {
	return errs(fmt.Errorf("TLS handshake with x: %w", syscall.ECONNRESET), n)
}

func probes(parts ...[]result) []result {
	var rs []result
	for _, p := range parts {
		rs = append(rs, p...)
	}
	return rs
}

// healthy is a round in which every zone answers in a millisecond.
func healthy() round {
	return round{"a": oks(time.Millisecond, 3), "b": oks(time.Millisecond, 3), "c": oks(time.Millisecond, 3)}
}

// with is a healthy round but for the given zones' results.
func with(zonesAndResults ...any) round {
	r := healthy()
	for i := 0; i+1 < len(zonesAndResults); i += 2 {
		r[zonesAndResults[i].(string)] = zonesAndResults[i+1].([]result)
	}
	return r
}

// without is a healthy round in which zone was not probed at all.
func without(zone string) round {
	r := healthy()
	delete(r, zone)
	return r
}

// waitFor polls cond until it holds, failing the test after a deadline.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	err := poll.Until(context.Background(), 10*time.Second, 2*time.Millisecond, func() error {
		if cond() {
			return nil
		}
		return errors.New(what + " not yet")
	})
	if err != nil {
		t.Fatalf("waiting for %s: %v", what, err)
	}
}

func closed(ch <-chan struct{}) bool {
	select {
	case <-ch:
		return true
	default:
		return false
	}
}
