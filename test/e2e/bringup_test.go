package e2e

import (
	"fmt"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/cellplane/cellplane/internal/cell/bringup"
	"github.com/cellplane/cellplane/internal/client"
	"github.com/cellplane/cellplane/test/framework"
)

// TestConcurrentCreates creates five clusters at once through the regional
// API. Every CreateCluster is accepted at once; the cell brings them up a
// few at a time, and DescribeCluster shows the queued ones their place;
// all five reach ACTIVE with no kube-controller-manager or kube-scheduler
// restart (a controller that lost its lease under the load of its
// neighbours' bring-ups would show one).
func TestConcurrentCreates(t *testing.T) {
	ctx := ctxFor(t)
	in := framework.Shared(ctx, t, bins)
	names := []string{"burst-1", "burst-2", "burst-3", "burst-4", "burst-5"}
	start := time.Now()
	var g errgroup.Group
	for _, n := range names {
		g.Go(func() error {
			begin := time.Now()
			if _, err := in.Client().CreateCluster(ctx, client.CreateClusterInput{Name: n}); err != nil {
				return fmt.Errorf("CreateCluster %s: %w", n, err)
			}
			if took := time.Since(begin); took > 10*time.Second {
				return fmt.Errorf("CreateCluster %s took %s: it should be accepted at once", n, took)
			}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		t.Fatal(err)
	}

	activeAfter := map[string]time.Duration{}
	maxQueued := int32(0)
	err := framework.Eventually(ctx, 6*time.Minute, 250*time.Millisecond, func() error {
		var waiting []string
		for _, n := range names {
			if _, done := activeAfter[n]; done {
				continue
			}
			c, err := in.Client().DescribeCluster(ctx, n)
			if err != nil {
				return err
			}
			switch {
			case c.Status == "FAILED":
				return framework.Permanent(fmt.Errorf("%s FAILED: %+v", n, c.Cellplane))
			case c.Status == "ACTIVE":
				activeAfter[n] = time.Since(start)
				continue
			case c.Cellplane != nil && c.Cellplane.BringUp != nil && c.Cellplane.BringUp.QueuePosition > 0:
				maxQueued = max(maxQueued, c.Cellplane.BringUp.QueuePosition)
				if !strings.Contains(c.Cellplane.Reason, "queued to start") {
					return framework.Permanent(fmt.Errorf("%s is queued at %d, but its reason says %q", n, c.Cellplane.BringUp.QueuePosition, c.Cellplane.Reason))
				}
			}
			waiting = append(waiting, n+" "+c.Status)
		}
		if len(waiting) > 0 {
			return fmt.Errorf("not ACTIVE yet: %v", waiting)
		}
		return nil
	})
	if err != nil {
		t.Fatalf("%v\ncellplane log:\n%s", err, in.Log())
	}
	var times []time.Duration
	for _, n := range names {
		times = append(times, activeAfter[n])
	}
	slices.Sort(times)
	t.Logf("create to ACTIVE, five at once: %v (median %s, max %s); deepest queue position seen %d",
		times, times[2].Round(100*time.Millisecond), times[4].Round(100*time.Millisecond), maxQueued)

	if slots := bringup.AutoSlots(runtime.NumCPU()); slots < len(names) && maxQueued == 0 {
		t.Errorf("with %d bring-up slots for %d creates, DescribeCluster never showed a cluster queued", slots, len(names))
	}
	for _, n := range names {
		for _, c := range describe(ctx, t, in, n).Cellplane.Components {
			if c.Restarts > 0 {
				t.Errorf("%s's %s exited by itself %d times during the burst", n, c.Name, c.Restarts)
			}
		}
	}
}
