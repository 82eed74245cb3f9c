package bench

import (
	"bytes"
	"context"
	"fmt"
	"maps"
	"os"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/cellplane/cellplane/internal/ipam"
	"github.com/cellplane/cellplane/internal/runtime/process"
	"github.com/cellplane/cellplane/test/framework"
)

// idleClusters, idleSettle and idleWindow: five idle clusters, left alone for
// half a minute after they come up (the bring-up's own work and the first
// polls are done), then measured over a minute.
const (
	idleClusters = 5
	idleSettle   = 30 * time.Second
	idleWindow   = 60 * time.Second
)

// clockTicks is the kernel's USER_HZ, the unit of /proc/<pid>/stat's CPU
// times: 100 on every Linux this runs on.
const clockTicks = 100

// BenchmarkIdleCost measures what idle clusters cost, in one run so the
// ratios compare like with like: the CPU (over a minute) and resident memory
// of five raw control planes started by hand with the same binaries, flags
// and certificates (the floor), against five clusters cellplane runs with
// nothing connected to their endpoints. cellplane's side counts every
// process of each cluster, its KMS plugins included; the service's own
// processes (regional API, cell, load balancer, management stores) are
// reported apart.
func BenchmarkIdleCost(b *testing.B) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Minute)
	defer cancel()
	block, _ := ipam.ParseBlock("127.200", 1)
	rawCell := block.Cell(1)

	// The floor, started one after another so none fails under the load of
	// the others' start.
	var rawPIDs []int
	for i := range idleClusters {
		p := prepareRaw(b, rawCell, 20+i)
		b.Cleanup(p.stop)
		if _, err := p.start(ctx); err != nil {
			b.Fatalf("raw control plane %d: %v", i+1, err)
		}
		for _, pr := range p.procs {
			rawPIDs = append(rawPIDs, pr.cmd.Process.Pid)
		}
	}
	wait(ctx, idleSettle)
	rawCPU := cpuOver(b, ctx, rawPIDs, idleWindow)
	rawRSS := rssOf(b, rawPIDs)
	b.Logf("floor: %d processes, %.3f cores and %d MB per cluster", len(rawPIDs), rawCPU/idleClusters, rawRSS/idleClusters>>20)

	in := framework.NewInstance(b, bins)
	in.Start(ctx)
	c := in.Client()
	var names []string
	for i := range idleClusters {
		name := fmt.Sprintf("idle-%d", i)
		createTimed(b, ctx, c, name)
		names = append(names, name)
	}
	wait(ctx, idleSettle)
	tenant, byKind := tenantPIDs(b, ctx, in, names)
	own := ownPIDs(b, in, tenant)
	before := ticksOf(tenant)
	ownBefore := ticksOf(own)
	kindBefore := map[string]uint64{}
	for k, pids := range byKind {
		kindBefore[k] = ticksOf(pids)
	}
	start := time.Now()
	wait(ctx, idleWindow)
	secs := time.Since(start).Seconds()
	tenantCPU := float64(ticksOf(tenant)-before) / clockTicks / secs
	ownCPU := float64(ticksOf(own)-ownBefore) / clockTicks / secs
	tenantRSS := rssOf(b, tenant)
	for _, k := range slices.Sorted(maps.Keys(byKind)) {
		b.Logf("cellplane %s: %.3f cores per cluster", k, float64(ticksOf(byKind[k])-kindBefore[k])/clockTicks/secs/idleClusters)
	}
	b.Logf("cellplane: %d tenant processes, %.3f cores and %d MB per cluster; the service's own %d processes %.3f cores",
		len(tenant), tenantCPU/idleClusters, tenantRSS/idleClusters>>20, len(own), ownCPU)

	b.ReportMetric(rawCPU/idleClusters, "floor-cores/cluster")
	b.ReportMetric(tenantCPU/idleClusters, "cellplane-cores/cluster")
	b.ReportMetric(tenantCPU/rawCPU, "ratio-cpu")
	b.ReportMetric((tenantCPU+ownCPU)/rawCPU, "ratio-cpu-with-service")
	b.ReportMetric(float64(rawRSS)/idleClusters/(1<<20), "floor-MB/cluster")
	b.ReportMetric(float64(tenantRSS)/idleClusters/(1<<20), "cellplane-MB/cluster")
	b.ReportMetric(float64(tenantRSS)/float64(rawRSS), "ratio-memory")
	b.ReportMetric(ownCPU, "service-cores")
}

// wait lets d pass, or ctx end.
func wait(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}

// cpuOver is the cores pids used together over d.
func cpuOver(b *testing.B, ctx context.Context, pids []int, d time.Duration) float64 {
	before, start := ticksOf(pids), time.Now()
	wait(ctx, d)
	if ctx.Err() != nil {
		b.Fatal(ctx.Err())
	}
	return float64(ticksOf(pids)-before) / clockTicks / time.Since(start).Seconds()
}

// ticksOf sums the user and system CPU time of pids, in clock ticks; a
// process gone counts nothing.
func ticksOf(pids []int) uint64 {
	var total uint64
	for _, pid := range pids {
		stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
		if err != nil {
			continue
		}
		// The fields after the ")" that ends the command name: state is
		// the 3rd field of the line, utime the 14th and stime the 15th.
		f := bytes.Fields(stat[bytes.LastIndexByte(stat, ')')+1:])
		if len(f) < 13 {
			continue
		}
		u, _ := strconv.ParseUint(string(f[11]), 10, 64)
		s, _ := strconv.ParseUint(string(f[12]), 10, 64)
		total += u + s
	}
	return total
}

func rssOf(b *testing.B, pids []int) int64 {
	var total int64
	for _, pid := range pids {
		rss, err := framework.RSS(pid)
		if err != nil {
			b.Fatal(err)
		}
		total += rss
	}
	return total
}

// tenantPIDs is every process of the named clusters, and the same by kind.
func tenantPIDs(b *testing.B, ctx context.Context, in *framework.Instance, names []string) ([]int, map[string][]int) {
	var all []int
	byKind := map[string][]int{}
	for _, n := range names {
		for _, m := range detailed(b, ctx, in, n).Cellplane.Components {
			if m.PID == 0 {
				b.Fatalf("%s's %s shows no PID", n, m.Name)
			}
			all = append(all, m.PID)
			kind := m.Name[:len(m.Name)-2] // "etcd-a" → "etcd"
			byKind[kind] = append(byKind[kind], m.PID)
		}
	}
	return all, byKind
}

// ownPIDs is the service's own processes: cellplane and every process with a
// PID file in its data directory that is not one of the clusters'.
func ownPIDs(b *testing.B, in *framework.Instance, tenant []int) []int {
	own := []int{in.PID()}
	for _, f := range in.PIDFiles() {
		pid, err := process.ReadPID(f)
		if err != nil || slices.Contains(tenant, pid) || slices.Contains(own, pid) {
			continue
		}
		own = append(own, pid)
	}
	if len(own) < 3 {
		b.Fatalf("found %d of the service's processes (%v), want cellplane, its cell and more", len(own), own)
	}
	return own
}
