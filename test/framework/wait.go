package framework

import (
	"context"
	"errors"
	"fmt"
	"time"
)

type permanent struct{ error }

// Permanent marks an error that Eventually must not retry.
func Permanent(err error) error { return permanent{err} }

// Eventually calls f every interval until it returns nil, returns a Permanent
// error, or timeout passes; it returns the last error.
func Eventually(ctx context.Context, timeout, interval time.Duration, f func() error) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var last error
	for {
		last = f()
		var p permanent
		if last == nil || errors.As(last, &p) {
			return last
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("gave up after %s: %w", timeout, last)
		case <-time.After(interval):
		}
	}
}
