package poll

import (
	"context"
	"errors"
	"fmt"
	"math"
	"time"
)

// Until calls f until it returns nil, returns an error marked Permanent, or
// timeout passes, pausing interval between the end of one call and the start of
// the next; the last pause is cut short so that f runs once more at the deadline.
// f always runs at least once, in the caller's goroutine, so it may call t.Fatal.
//
// Until returns nil; f's permanent error as f returned it; or f's last error
// wrapped with how long Until waited. When ctx ends first, the error wraps
// ctx.Err() too. An interval that is not positive is refused before f runs: a
// loop without a pause would spin a core.
func Until(ctx context.Context, timeout, interval time.Duration, f func() error) error {
	if interval <= 0 {
		return fmt.Errorf("polling every %s: the interval must be positive", interval)
	}
	start := time.Now()
	end := start.Add(timeout)
	for {
		last := f()
		if last == nil || IsPermanent(last) {
			return last
		}
		if ctx.Err() != nil {
			return stopped(ctx, start, last)
		}
		left := time.Until(end)
		if left <= 0 {
			return fmt.Errorf("gave up after %s: %w", waited(start), last)
		}
		select {
		case <-ctx.Done():
			return stopped(ctx, start, last)
		case <-time.After(min(interval, left)):
		}
	}
}

// UntilDone is Until bounded by ctx alone: it polls until f succeeds, f
// returns a Permanent error, or ctx ends (at its deadline, if it has one).
func UntilDone(ctx context.Context, interval time.Duration, f func() error) error {
	timeout := time.Duration(math.MaxInt64)
	if d, ok := ctx.Deadline(); ok {
		timeout = time.Until(d)
	}
	return Until(ctx, timeout, interval, f)
}

func stopped(ctx context.Context, start time.Time, last error) error {
	return fmt.Errorf("stopped after %s: %w: %w", waited(start), ctx.Err(), last)
}

// waited rounds the time since start for people: microseconds are noise here.
func waited(start time.Time) time.Duration {
	return time.Since(start).Round(time.Millisecond)
}

// permanentError marks an error that retrying cannot cure.
type permanentError struct{ err error }

func (p *permanentError) Error() string { return p.err.Error() }
func (p *permanentError) Unwrap() error { return p.err }

// Permanent marks err so that Until returns it at once instead of retrying. The
// mark is transparent: the error reads the same, and errors.Is and errors.As see
// through it. Permanent(nil) is nil.
func Permanent(err error) error {
	if err == nil {
		return nil
	}
	return &permanentError{err}
}

// IsPermanent reports whether err, or an error it wraps, was marked Permanent.
func IsPermanent(err error) bool {
	var p *permanentError
	return errors.As(err, &p)
}
