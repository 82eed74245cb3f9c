package bench

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cellplane/cellplane/internal/client"
	"github.com/cellplane/cellplane/internal/eks"
	"github.com/cellplane/cellplane/internal/ipam"
	"github.com/cellplane/cellplane/internal/operator"
	"github.com/cellplane/cellplane/test/framework"
)

// BenchmarkCreateToActive measures, in one run so the ratios compare like with like:
// the floor (raw components started by hand with the same TLS setup), cellplane's
// create-to-ACTIVE for one cluster (three times) and for five at once, and resident
// memory per cluster: the components' and cellplane's own.
func BenchmarkCreateToActive(b *testing.B) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Minute)
	defer cancel()
	block, _ := ipam.ParseBlock("127.200", 1)
	rawCell := block.Cell(1)

	var floorOne []time.Duration
	for i := 0; i < 3; i++ {
		d, err := floor(b, ctx, rawCell, i, 1)
		if err != nil {
			b.Fatalf("the floor of one cluster: %v", err)
		}
		floorOne = append(floorOne, d...)
	}
	// Five raw control planes at once overload two cores, and a member that
	// exits then (a controller manager losing its lease) has nothing to restart
	// it: such a floor is recorded as failed, with why, and cellplane is
	// measured all the same.
	floorFive, floorFiveErr := floor(b, ctx, rawCell, 10, 5)

	in := framework.NewInstance(b, bins)
	in.Start(ctx)
	c := in.Client()
	idle := ownRSS(b, in)
	var one []time.Duration
	for i := 0; i < 3; i++ {
		d := createTimed(b, ctx, c, fmt.Sprintf("one-%d", i))
		one = append(one, d)
		deleteAll(b, ctx, c, fmt.Sprintf("one-%d", i))
	}
	five := createConcurrently(b, ctx, c, 5)
	restarts := componentRestarts(b, ctx, c, 5)
	loaded := ownRSS(b, in)
	comp := componentRSS(b, ctx, in, 5)

	report(b, "floor-1", floorOne)
	report(b, "cellplane-1", one)
	report(b, "cellplane-5", five)
	b.ReportMetric(median(one).Seconds()/median(floorOne).Seconds(), "ratio-1-median")
	if floorFiveErr != nil {
		b.ReportMetric(1, "floor-5-failed")
		b.Logf("floor-5: FAILED, so no ratio for five at once: %v", floorFiveErr)
	} else {
		report(b, "floor-5", floorFive)
		b.ReportMetric(median(five).Seconds()/median(floorFive).Seconds(), "ratio-5-median")
		b.ReportMetric(maxOf(five).Seconds()/maxOf(floorFive).Seconds(), "ratio-5-max")
	}
	// Exits the cell did not ask for, during the five bring-ups: a controller
	// manager or scheduler that lost its lease under the load shows here.
	b.ReportMetric(float64(restarts), "cellplane-5-restarts")
	b.ReportMetric(float64(comp)/5/(1<<20), "components-MB/cluster")
	b.ReportMetric(float64(loaded-idle)/5/(1<<20), "cellplane-MB/cluster")
	b.ReportMetric(float64(idle)/(1<<20), "cellplane-idle-MB")
	b.Logf("cellplane (service + load balancer) RSS: %d MB idle, %d MB with 5 clusters", idle>>20, loaded>>20)
	b.Logf("components RSS: %d MB for 5 clusters, %d MB per cluster", comp>>20, comp/5>>20)
}

func createTimed(b *testing.B, ctx context.Context, c *client.Client, name string) time.Duration {
	start := time.Now()
	if _, err := c.CreateCluster(ctx, client.CreateClusterInput{Name: name}); err != nil {
		b.Fatal(err)
	}
	err := framework.Eventually(ctx, 5*time.Minute, 20*time.Millisecond, func() error {
		cl, err := c.DescribeCluster(ctx, name)
		if err != nil {
			return err
		}
		if cl.Status == "FAILED" {
			return framework.Permanent(fmt.Errorf("%s FAILED: %+v", name, cl.Cellplane))
		}
		if cl.Status != "ACTIVE" {
			return fmt.Errorf("%s is %s", name, cl.Status)
		}
		return nil
	})
	if err != nil {
		b.Fatal(err)
	}
	return time.Since(start)
}

func createConcurrently(b *testing.B, ctx context.Context, c *client.Client, n int) []time.Duration {
	out := make([]time.Duration, n)
	var wg sync.WaitGroup
	for i := range out {
		wg.Add(1)
		go func() {
			defer wg.Done()
			out[i] = createTimed(b, ctx, c, fmt.Sprintf("five-%d", i))
		}()
	}
	wg.Wait()
	return out
}

func deleteAll(b *testing.B, ctx context.Context, c *client.Client, names ...string) {
	for _, n := range names {
		if _, err := c.DeleteCluster(ctx, n); err != nil {
			b.Fatal(err)
		}
	}
	for _, n := range names {
		_, err := client.WaitFor(ctx, c, n, func(*eks.Cluster) bool { return false }, nil)
		if err == nil {
			b.Fatalf("%s not deleted", n)
		}
	}
}

// ownRSS is cellplane's own memory: the service process plus the cell's load
// balancer process.
func ownRSS(b *testing.B, in *framework.Instance) int64 {
	total, err := framework.RSS(in.PID())
	if err != nil {
		b.Fatal(err)
	}
	for _, p := range in.PIDFiles() {
		if strings.HasSuffix(p, "/lb/lb.pid") {
			total += rssFromPIDFile(b, p)
		}
	}
	return total
}

func rssFromPIDFile(b *testing.B, path string) int64 {
	data, err := os.ReadFile(path)
	if err != nil {
		b.Fatal(err)
	}
	var pf struct {
		PID int `json:"pid"`
	}
	if err := json.Unmarshal(data, &pf); err != nil {
		b.Fatalf("reading %s: %v", path, err)
	}
	rss, err := framework.RSS(pf.PID)
	if err != nil {
		b.Fatal(err)
	}
	return rss
}

func componentRestarts(b *testing.B, ctx context.Context, c *client.Client, n int) int {
	total := 0
	for i := range n {
		cl, err := c.DescribeCluster(ctx, fmt.Sprintf("five-%d", i))
		if err != nil {
			b.Fatal(err)
		}
		for _, m := range cl.Cellplane.Components {
			if m.Restarts > 0 {
				b.Logf("five-%d's %s exited by itself %d times", i, m.Name, m.Restarts)
			}
			total += int(m.Restarts)
		}
	}
	return total
}

func componentRSS(b *testing.B, ctx context.Context, in *framework.Instance, n int) int64 {
	var total int64
	for i := 0; i < n; i++ {
		for _, m := range detailed(b, ctx, in, fmt.Sprintf("five-%d", i)).Cellplane.Components {
			rss, err := framework.RSS(m.PID)
			if err != nil {
				b.Fatal(err)
			}
			total += rss
		}
	}
	return total
}

// detailed is a cluster as its operator sees it, PIDs included: the regional
// API shows tenants none.
func detailed(b *testing.B, ctx context.Context, in *framework.Instance, name string) *eks.Cluster {
	cl, err := in.Client().DescribeCluster(ctx, name)
	if err != nil {
		b.Fatal(err)
	}
	op := operator.New(in.DataDir)
	full, err := op.WithDetails(ctx, cl)
	if err != nil {
		b.Fatalf("the operator's view of %s: %v", name, err)
	}
	return full
}

func report(b *testing.B, name string, ds []time.Duration) {
	b.ReportMetric(median(ds).Seconds(), name+"-median-s")
	b.ReportMetric(maxOf(ds).Seconds(), name+"-max-s")
	b.Logf("%s: %v", name, ds)
}

func median(ds []time.Duration) time.Duration {
	s := append([]time.Duration(nil), ds...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	return s[len(s)/2]
}

func maxOf(ds []time.Duration) time.Duration {
	m := ds[0]
	for _, d := range ds {
		m = max(m, d)
	}
	return m
}
