package framework

import (
	"context"
	"time"

	"github.com/cellplane/cellplane/internal/poll"
)

// Permanent marks an error that Eventually must not retry.
func Permanent(err error) error { return poll.Permanent(err) }

// Eventually calls f every interval until it returns nil, returns a Permanent
// error, or timeout passes; it returns the last error, saying how long it waited.
// It is poll.Until under the name the end-to-end tests know.
func Eventually(ctx context.Context, timeout, interval time.Duration, f func() error) error {
	return poll.Until(ctx, timeout, interval, f)
}
