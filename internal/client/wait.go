package client

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/cellplane/cellplane/internal/eks"
	"github.com/cellplane/cellplane/internal/poll"
)

// PollInterval is how often WaitFor describes the cluster.
const PollInterval = 250 * time.Millisecond

// ErrClusterFailed is returned by WaitFor when the cluster turns FAILED.
var ErrClusterFailed = errors.New("cluster failed")

// WaitFor describes the cluster every PollInterval until pred accepts it, and
// returns it. progress, when not nil, sees the cluster whenever its status or its
// cellplane extension changed, so a caller can print progress without repeats.
//
// It returns an error matching ErrClusterFailed (with the cell's reason) when the
// cluster goes FAILED before pred accepts it, and an error matching
// errdefs.ErrNotFound when the cluster does not exist: the end of a wait for
// deletion. Errors a retry may cure (the region restarting) are retried until
// ctx ends.
func WaitFor(ctx context.Context, c *Client, name string, pred func(*eks.Cluster) bool, progress func(*eks.Cluster)) (*eks.Cluster, error) {
	var cl *eks.Cluster
	var last string
	var lastErr error
	err := poll.UntilDone(ctx, PollInterval, func() error {
		got, err := c.DescribeCluster(ctx, name)
		switch {
		case err == nil:
			last = report(got, last, progress)
			done, ferr := settled(got, pred)
			if !done {
				return errNotYet
			}
			cl = got
			return poll.Permanent(ferr)
		case permanent(err):
			return poll.Permanent(err)
		}
		lastErr = err
		return err
	})
	switch {
	case err == nil || cl != nil:
		return cl, err
	case poll.IsPermanent(err), ctx.Err() == nil:
		return nil, err
	}
	return nil, waitTimeout(ctx, name, lastErr)
}

// errNotYet keeps WaitFor polling: the cluster is there, not yet as wanted.
var errNotYet = errors.New("not yet")

// settled reports whether the wait is over: pred holds, or the cluster failed.
func settled(cl *eks.Cluster, pred func(*eks.Cluster) bool) (bool, error) {
	if pred(cl) {
		return true, nil
	}
	if cl.Status == eks.StatusFailed {
		return true, fmt.Errorf("cluster %s: %w: %s", cl.Name, ErrClusterFailed, failureReason(cl))
	}
	return false, nil
}

// report calls progress when what it would show changed since the last call, and
// returns the new state to compare against.
func report(cl *eks.Cluster, last string, progress func(*eks.Cluster)) string {
	b, _ := json.Marshal(struct {
		Status    string
		Cellplane *eks.Extension
	}{cl.Status, cl.Cellplane})
	if progress != nil && string(b) != last {
		progress(cl)
	}
	return string(b)
}

// failureReason finds the cell's explanation of a failure.
func failureReason(cl *eks.Cluster) string {
	if cl.Cellplane != nil && cl.Cellplane.Reason != "" {
		return cl.Cellplane.Reason
	}
	if cl.Health != nil && len(cl.Health.Issues) > 0 {
		return cl.Health.Issues[0].Message
	}
	return "no reason reported"
}

// permanent reports errors a retry cannot cure: answers in the 4xx range but
// 429, throttling, which the next poll may well get through.
func permanent(err error) bool {
	var apiErr *eks.APIError
	return errors.As(err, &apiErr) && apiErr.Status >= 400 && apiErr.Status < 500 && apiErr.Status != http.StatusTooManyRequests
}

// waitTimeout explains an ended wait, with the last transient error if any.
func waitTimeout(ctx context.Context, name string, lastErr error) error {
	err := fmt.Errorf("waiting for cluster %s: %w", name, context.Cause(ctx))
	if lastErr != nil {
		return errors.Join(err, lastErr)
	}
	return err
}
