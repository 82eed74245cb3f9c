package bench

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	goruntime "runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/cellplane/cellplane/internal/datadir"
	"github.com/cellplane/cellplane/internal/runtime/cgroup"
	"github.com/cellplane/cellplane/test/framework"
)

// Request counts of BenchmarkNoisyNeighbour: blocks rotate through the
// loads, so drift in the machine's load hits each alike; 5,000 GETs per load,
// since a p99 of 2,000 moved by 0.4x between runs.
const (
	neighbourBlocks   = 50
	neighbourPerBlock = 100
	neighbourBurners  = 4 // two per core: enough to saturate the machine
)

// BenchmarkNoisyNeighbour measures a quiet cluster's GET latency (one
// ConfigMap through its endpoint, client-go) while CPU burners run in a noisy
// cluster's cgroup (the shipped layout: an even weight, and the settled cap of
// half the machine once the cluster is ACTIVE and Ready), against the same
// with no burner, and, for comparison, with the burners in a sibling group
// with the cluster's weight and no cap (what a cluster gets while it starts,
// and what every cluster got before the settled cap). Burners outside any
// tenant's cgroup (an unisolated cellplane) were measured before and are in
// docs/performance.md.
func BenchmarkNoisyNeighbour(b *testing.B) {
	if os.Geteuid() != 0 {
		b.Skip("cgroups need root")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Minute)
	defer cancel()
	in := framework.NewInstance(b, bins)
	in.Start(ctx)
	var kc string
	var wg sync.WaitGroup
	wg.Go(func() { kc = activeCluster(ctx, b, in, "quiet") })
	wg.Go(func() { activeCluster(ctx, b, in, "noisy") })
	wg.Wait()
	noisy := clusterCgroup(b, in, "noisy")
	b.Logf("noisy cluster's cgroups: %v", noisy)
	waitSettledCap(ctx, b, noisy)
	groups := map[string]map[string]string{
		"burner-in-noisy-cgroup":     noisy,
		"burner-in-uncapped-sibling": siblingGroup(b, noisy, "uncapped", nil),
	}

	cs := clientset(b, kc, "")
	cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "probe"}, Data: map[string]string{"k": "v"}}
	if _, err := cs.CoreV1().ConfigMaps("default").Create(ctx, cm, metav1.CreateOptions{}); err != nil {
		b.Fatal(err)
	}
	get := func() time.Duration {
		start := time.Now()
		if _, err := cs.CoreV1().ConfigMaps("default").Get(ctx, "probe", metav1.GetOptions{}); err != nil {
			b.Fatal(err)
		}
		return time.Since(start)
	}
	for range 200 {
		get()
	}
	modes := []string{"unloaded", "burner-in-noisy-cgroup", "burner-in-uncapped-sibling"}
	got := map[string][]time.Duration{}
	b.ResetTimer()
	for i := range neighbourBlocks {
		for j := range modes {
			mode := modes[(i+j)%len(modes)]
			var stop func()
			if mode != "unloaded" {
				stop = burn(b, groups[mode])
			}
			for range neighbourPerBlock {
				got[mode] = append(got[mode], get())
			}
			if stop != nil {
				stop()
			}
		}
	}
	b.StopTimer()
	p := func(ds []time.Duration, q float64) float64 {
		slices.Sort(ds)
		return float64(ds[int(q*float64(len(ds)-1))].Microseconds()) / 1000
	}
	base := p(got["unloaded"], 0.99)
	for _, m := range modes {
		b.ReportMetric(p(got[m], 0.5), m+"-p50-ms")
		b.ReportMetric(p(got[m], 0.99), m+"-p99-ms")
		b.Logf("%-30s %d GETs: p50 %.3f ms, p99 %.3f ms (%.2fx the unloaded p99)", m, len(got[m]), p(got[m], 0.5), p(got[m], 0.99), p(got[m], 0.99)/base)
	}
	b.ReportMetric(p(got["burner-in-noisy-cgroup"], 0.99)/base, "ratio-p99")
	b.ReportMetric(p(got["burner-in-uncapped-sibling"], 0.99)/base, "uncapped-ratio-p99")
}

// waitSettledCap waits until the cluster's cpu group holds the settled cap,
// which its first pass after it turned ACTIVE and Ready writes.
func waitSettledCap(ctx context.Context, b *testing.B, cluster map[string]string) {
	b.Helper()
	milli := cgroup.DefaultSettledCPUMaxMilli(goruntime.NumCPU())
	quota := strconv.FormatInt(int64(milli)*cgroup.CPUPeriod.Microseconds()/1000, 10)
	file, want := filepath.Join(cluster["cpu"], "cpu.cfs_quota_us"), quota
	if _, v1 := cluster["cpu"]; !v1 {
		file, want = filepath.Join(cluster[""], "cpu.max"), quota+" "+strconv.FormatInt(cgroup.CPUPeriod.Microseconds(), 10)
	}
	err := framework.Eventually(ctx, time.Minute, time.Second, func() error {
		got, err := os.ReadFile(file)
		if err != nil || strings.TrimSpace(string(got)) != want {
			return fmt.Errorf("%s = %q, %v; want %s", file, got, err, want)
		}
		return nil
	})
	if err != nil {
		b.Fatal(err)
	}
}

// siblingGroup makes a CPU group beside the cluster's group, with the
// kernel's default weight (a cluster's), no CPU cap and then the given files
// of the hierarchy's version written in order, removed when the benchmark ends. Only
// the cpu hierarchy: it is the one under test.
func siblingGroup(b *testing.B, cluster map[string]string, name string, files map[cgroup.Version][][2]string) map[string]string {
	b.Helper()
	ctl, version := "cpu", cgroup.V1
	if _, v1 := cluster[ctl]; !v1 {
		ctl, version = "", cgroup.V2
	}
	dir := filepath.Join(filepath.Dir(cluster[ctl]), fmt.Sprintf("cellplane-bench-%s-%d", name, os.Getpid()))
	if err := os.Mkdir(dir, 0o750); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		if err := os.Remove(dir); err != nil {
			b.Errorf("removing the %s group: %v", name, err)
		}
	})
	for _, f := range files[version] {
		if err := os.WriteFile(filepath.Join(dir, f[0]), []byte(f[1]), 0o644); err != nil {
			b.Fatal(err)
		}
	}
	return map[string]string{ctl: dir}
}

// clusterCgroup maps each cgroup v1 controller (or "" on v2) to the
// directory of cluster name's cgroup, read from its API server's process.
func clusterCgroup(b *testing.B, in *framework.Instance, name string) map[string]string {
	b.Helper()
	files, _ := filepath.Glob(filepath.Join(datadir.CellDir(in.DataDir, 1), "clusters", "*", name, "logs", "kube-apiserver-a.pid"))
	if len(files) != 1 {
		b.Fatalf("pid file of %s's API server: %v", name, files)
	}
	raw, err := os.ReadFile(files[0])
	if err != nil {
		b.Fatal(err)
	}
	var pf struct{ PID int }
	if err := json.Unmarshal(raw, &pf); err != nil {
		b.Fatal(err)
	}
	groups, err := cgroup.ProcessGroups(pf.PID)
	if err != nil {
		b.Fatal(err)
	}
	out := map[string]string{}
	for _, ctl := range []string{"cpu", "memory", "pids"} {
		if p, ok := groups[ctl]; ok {
			out[ctl] = filepath.Join("/sys/fs/cgroup", ctl, p)
		}
	}
	if p, ok := groups[""]; ok && len(out) == 0 { // v2
		out[""] = filepath.Join("/sys/fs/cgroup", p)
	}
	if !strings.Contains(fmt.Sprint(out), "."+name) {
		b.Fatalf("%s's API server is in no cgroup of its own: %v", name, groups)
	}
	return out
}

// burn starts CPU burners, moved into the given cgroup directories (none:
// they stay in ours), and returns what stops them.
func burn(b *testing.B, cgroups map[string]string) (stop func()) {
	var cmds []*exec.Cmd
	stop = func() {
		for _, c := range cmds {
			_ = c.Process.Kill() // the benchmark's own child: Wait below reaps it
			_ = c.Wait()
		}
	}
	for range neighbourBurners {
		cmd := exec.Command("sh", "-c", "while :; do :; done")
		cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
		if err := cmd.Start(); err != nil {
			stop()
			b.Fatal(err)
		}
		cmds = append(cmds, cmd)
		for _, d := range cgroups {
			if err := os.WriteFile(filepath.Join(d, "cgroup.procs"), []byte(strconv.Itoa(cmd.Process.Pid)), 0o644); err != nil {
				stop()
				b.Fatal(err)
			}
		}
	}
	return stop
}
