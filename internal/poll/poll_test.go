package poll

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"
)

var (
	errNotYet = errors.New("not yet")
	errBroken = errors.New("broken for good")
)

// script makes an f that returns results in turn, repeating the last one, and
// counts its calls. With cancel set, the first call cancels the context, at once
// or, with cancelAfter, while Until pauses.
type script struct {
	results     []error
	calls       int
	cancel      context.CancelFunc
	cancelAfter time.Duration
}

func (s *script) f() error {
	s.calls++
	if s.cancel != nil && s.calls == 1 {
		time.AfterFunc(s.cancelAfter, s.cancel)
		if s.cancelAfter == 0 {
			s.cancel()
		}
	}
	return s.results[min(s.calls, len(s.results))-1]
}

func TestUntil(t *testing.T) {
	attempt := func(n int) error { return fmt.Errorf("attempt %d: %w", n, errNotYet) }
	tests := []struct {
		name              string
		timeout, interval time.Duration
		results           []error
		cancel            bool
		cancelAfter       time.Duration
		wantCalls         int // exact; 0: at least minCalls
		minCalls          int
		wantIs            []error // the returned error wraps each of these
		wantPrefix        string  // and its text starts so
	}{
		{name: "nil at once", timeout: time.Hour, interval: time.Hour, results: []error{nil}, wantCalls: 1},
		{name: "nil on the third call", timeout: time.Hour, interval: time.Millisecond,
			results: []error{errNotYet, errNotYet, nil}, wantCalls: 3},
		{name: "permanent stops at once, unchanged", timeout: time.Hour, interval: time.Millisecond,
			results: []error{errNotYet, Permanent(errBroken)}, wantCalls: 2,
			wantIs: []error{errBroken}, wantPrefix: errBroken.Error()},
		{name: "permanent seen through wrapping", timeout: time.Hour, interval: time.Millisecond,
			results: []error{fmt.Errorf("probing: %w", Permanent(errBroken))}, wantCalls: 1,
			wantIs: []error{errBroken}, wantPrefix: "probing: " + errBroken.Error()},
		{name: "timeout returns the last error", timeout: 50 * time.Millisecond, interval: 5 * time.Millisecond,
			results: []error{attempt(1), attempt(2), attempt(3)}, minCalls: 3,
			wantIs: []error{errNotYet}, wantPrefix: "gave up after "},
		{name: "no timeout is one try", timeout: 0, interval: time.Hour,
			results: []error{errNotYet}, wantCalls: 1, wantIs: []error{errNotYet}, wantPrefix: "gave up after "},
		{name: "context canceled during the pause", timeout: time.Hour, interval: time.Hour,
			results: []error{errNotYet}, cancel: true, cancelAfter: 20 * time.Millisecond, wantCalls: 1,
			wantIs: []error{context.Canceled, errNotYet}, wantPrefix: "stopped after "},
		{name: "context canceled during the call", timeout: time.Hour, interval: time.Millisecond,
			results: []error{errNotYet}, cancel: true, wantCalls: 1,
			wantIs: []error{context.Canceled, errNotYet}, wantPrefix: "stopped after "},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			s := &script{results: tt.results, cancelAfter: tt.cancelAfter}
			if tt.cancel {
				s.cancel = cancel
			}
			start := time.Now()
			err := untilOrHang(t, ctx, tt.timeout, tt.interval, s.f)

			if tt.wantCalls > 0 && s.calls != tt.wantCalls {
				t.Errorf("f ran %d times, want %d", s.calls, tt.wantCalls)
			}
			if s.calls < tt.minCalls {
				t.Errorf("f ran %d times, want at least %d", s.calls, tt.minCalls)
			}
			if len(tt.wantIs) == 0 && err != nil {
				t.Fatalf("Until = %v, want nil", err)
			}
			for _, want := range tt.wantIs {
				if !errors.Is(err, want) {
					t.Errorf("Until = %v, want it to wrap %v", err, want)
				}
			}
			if err != nil && !strings.HasPrefix(err.Error(), tt.wantPrefix) {
				t.Errorf("Until = %q, want it to start %q", err, tt.wantPrefix)
			}
			// Giving up is a lower bound: it must not come before the deadline.
			if strings.HasPrefix(tt.wantPrefix, "gave up") && time.Since(start) < tt.timeout {
				t.Errorf("gave up after %s, before the %s timeout", time.Since(start), tt.timeout)
			}
		})
	}
}

// TestUntilReturnsTheLastError checks that the error given back is the one of the
// final call, not the first, and that f ran once more at the deadline.
func TestUntilReturnsTheLastError(t *testing.T) {
	calls := 0
	var last error
	err := untilOrHang(t, context.Background(), 30*time.Millisecond, time.Hour, func() error {
		calls++
		last = fmt.Errorf("attempt %d: %w", calls, errNotYet)
		return last
	})
	if calls != 2 {
		t.Errorf("f ran %d times with an interval past the deadline, want 2: at the start and at the deadline", calls)
	}
	if !errors.Is(err, last) || !strings.HasSuffix(err.Error(), last.Error()) {
		t.Errorf("Until = %v, want it to end with the last error %q", err, last)
	}
}

func TestUntilRefusesANonPositiveInterval(t *testing.T) {
	for _, interval := range []time.Duration{0, -time.Second} {
		called := false
		err := Until(context.Background(), time.Second, interval, func() error { called = true; return nil })
		if err == nil || called {
			t.Errorf("interval %s: Until = %v with f called %v, want an error before f runs", interval, err, called)
		}
	}
}

func TestPermanent(t *testing.T) {
	if Permanent(nil) != nil {
		t.Error("Permanent(nil) is not nil")
	}
	p := Permanent(errBroken)
	if !IsPermanent(p) || !IsPermanent(fmt.Errorf("wrapped: %w", p)) {
		t.Error("IsPermanent misses a marked error")
	}
	if IsPermanent(errBroken) || IsPermanent(nil) {
		t.Error("IsPermanent reports an unmarked error")
	}
	if !errors.Is(p, errBroken) || p.Error() != errBroken.Error() {
		t.Errorf("Permanent(%v) = %v, want the same error behind a transparent mark", errBroken, p)
	}
}

// untilOrHang runs Until and fails the test, rather than hanging it, if Until
// has not returned long after every case here should have.
func untilOrHang(t *testing.T, ctx context.Context, timeout, interval time.Duration, f func() error) error {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- Until(ctx, timeout, interval, f) }()
	select {
	case err := <-done:
		return err
	case <-time.After(time.Minute):
		t.Fatal("Until did not return within a minute")
		return nil
	}
}

func TestUntilDoneStopsWithItsContext(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 150*time.Millisecond)
	defer cancel()
	calls := 0
	err := UntilDone(ctx, 20*time.Millisecond, func() error { calls++; return errors.New("not yet") })
	if err == nil || calls < 2 {
		t.Fatalf("UntilDone = %v after %d calls; want the last error once the context ended", err, calls)
	}
	if err := UntilDone(context.Background(), time.Millisecond, func() error { return nil }); err != nil {
		t.Fatalf("UntilDone without a deadline = %v", err)
	}
}
