package bench

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/cellplane/cellplane/internal/components"
	"github.com/cellplane/cellplane/test/framework"
)

// BenchmarkUpgrade measures issue 15's in-place upgrade: UpdateClusterVersion
// of a 1.36 cluster to 1.37 until the update is Successful, while 8 clients
// read and write through the endpoint and an informer watches, and counts
// the requests that failed after client-go's retries. Targets: at most 2
// minutes, no failed request.
func BenchmarkUpgrade(b *testing.B) {
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
	defer cancel()
	from, err := components.Lookup("1.36")
	if err != nil {
		b.Fatal(err)
	}
	to := components.Default()
	in := framework.NewInstance(b, bins)
	in.Start(ctx)
	c := in.Client()
	if _, errOut, err := in.CLI(ctx, "cluster", "create", "up", "--version", from.Minor, "--wait"); err != nil {
		b.Fatalf("cluster create: %v\n%s", err, errOut)
	}
	kc := filepath.Join(b.TempDir(), "up.kubeconfig")
	if _, errOut, err := in.CLI(ctx, "cluster", "kubeconfig", "up", "--admin", "--output", kc); err != nil {
		b.Fatalf("cluster kubeconfig: %v\n%s", err, errOut)
	}
	load, err := framework.StartLoad(ctx, kc, "load", 8)
	if err != nil {
		b.Fatal(err)
	}
	if err := load.Busy(ctx, 40); err != nil { // the clients are busy before the upgrade begins
		b.Fatal(err)
	}
	b.ResetTimer()
	start := time.Now()
	u, err := c.UpdateClusterVersion(ctx, "up", to.Minor, "")
	if err != nil {
		b.Fatal(err)
	}
	err = framework.Eventually(ctx, 10*time.Minute, 100*time.Millisecond, func() error {
		got, err := c.DescribeUpdate(ctx, "up", u.ID)
		if err != nil {
			return err
		}
		switch got.Status {
		case "Successful":
			return nil
		case "InProgress":
			return fmt.Errorf("update in progress")
		}
		return framework.Permanent(fmt.Errorf("update ended %s: %+v", got.Status, got.Errors))
	})
	took := time.Since(start)
	b.StopTimer()
	if err != nil {
		b.Fatal(err)
	}
	res := load.Stop(30 * time.Second)
	b.ReportMetric(took.Seconds(), "upgrade-s")
	b.ReportMetric(took.Seconds()/120, "ratio-to-2min")
	b.ReportMetric(float64(len(res.Failures)), "failed-requests")
	b.ReportMetric(float64(res.Requests), "requests")
	b.ReportMetric(float64(len(res.Unseen)), "writes-unseen-by-informer")
	b.Logf("upgrade %s → %s: %s; %d requests, %d failed %v; %d writes, %d unseen by the informer",
		from.Version, to.Version, took.Round(time.Millisecond), res.Requests, len(res.Failures), res.Failures, res.Writes, len(res.Unseen))
}
