package e2e

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cellplane/cellplane/internal/datadir"
	"github.com/cellplane/cellplane/internal/runtime/process"
	"github.com/cellplane/cellplane/test/framework"
)

// TestDown: after Ctrl-C on cellplane up, the cell's load balancer and the tenant
// control planes keep running; cellplane down without --yes and without a
// terminal refuses and stops nothing, with --yes stops every one of them, and the
// next up brings the cluster back on the same data. down also stops a running up.
func TestDown(t *testing.T) {
	ctx := ctxFor(t)
	in := framework.NewInstance(t, bins)
	in.Start(ctx)
	cl := createActive(ctx, t, in, "demo")
	kc := kubeconfig(ctx, t, in, "demo")
	if _, err := kubectl(ctx, kc, "create", "configmap", "kept", "--from-literal=k=v"); err != nil {
		t.Fatal(err)
	}
	endpoint := strings.TrimPrefix(cl.Endpoint, "https://")

	if err := in.Stop(); err != nil {
		t.Fatalf("Ctrl-C on cellplane up: %v\n%s", err, in.Log())
	}
	left := runningPIDs(t, in)
	t.Logf("left running after Ctrl-C: %v", left)
	if _, ok := left["cells/cell-1/lb/lb.pid"]; !ok || len(left) != 12 {
		t.Fatalf("want the load balancer and 11 tenant processes left after Ctrl-C, got %v", left)
	}

	if !t.Run("without --yes and without a terminal it refuses and stops nothing", func(t *testing.T) {
		_, errOut, err := in.CLI(ctx, "down")
		var exit *exec.ExitError
		if !errors.As(err, &exit) || exit.ExitCode() != 2 || !strings.Contains(errOut, "pass --yes") ||
			!strings.Contains(errOut, "1 tenant cluster (11 processes)") {
			t.Fatalf("down = %v:\n%s\nwant exit code 2 asking for --yes", err, errOut)
		}
		for f, pid := range left {
			if !alive(pid) {
				t.Errorf("%s (pid %d) was stopped without confirmation", f, pid)
			}
		}
		if _, err := kubectl(ctx, kc, "get", "configmap", "kept"); err != nil {
			t.Errorf("the cluster stopped serving: %v", err)
		}
	}) {
		return
	}

	if !t.Run("with --yes it stops every process of the data directory", func(t *testing.T) {
		out, errOut, err := in.CLI(ctx, "down", "--yes")
		t.Logf("down --yes:\n%s%s", errOut, out)
		if err != nil {
			t.Fatalf("down --yes: %v", err)
		}
		checkAllStopped(t, in, left)
		if listening(endpoint) {
			t.Errorf("the cluster's endpoint %s still answers", endpoint)
		}
		if _, err := in.Client().ListAllClusters(ctx); err == nil {
			t.Error("the regional API still answers")
		}
		if !strings.Contains(out, "stopped 12 processes") || !strings.Contains(errOut, "stopping 3 tenant etcd members ... done") {
			t.Errorf("down --yes did not report what it stopped")
		}
	}) {
		return
	}

	t.Run("a second down finds nothing and succeeds", func(t *testing.T) {
		out, errOut, err := in.CLI(ctx, "down")
		if err != nil || !strings.Contains(out, "nothing of cellplane runs on "+in.DataDir) {
			t.Fatalf("second down = %v:\n%s%s", err, out, errOut)
		}
	})

	if !t.Run("up brings the cluster back on the same data", func(t *testing.T) {
		in.Start(ctx)
		err := framework.Eventually(ctx, 3*time.Minute, 500*time.Millisecond, func() error {
			if c := describe(ctx, t, in, "demo"); c.Status != "ACTIVE" {
				return fmt.Errorf("status %s", c.Status)
			}
			_, err := kubectl(ctx, kc, "get", "configmap", "kept")
			return err
		})
		if err != nil {
			t.Fatalf("the cluster did not come back: %v\n%s", err, cellLog(t, in))
		}
	}) {
		return
	}

	t.Run("down stops a running up first", func(t *testing.T) {
		all := runningPIDs(t, in)
		up := in.PID()
		out, errOut, err := in.CLI(ctx, "down", "--yes")
		t.Logf("down --yes:\n%s%s", errOut, out)
		if err != nil {
			t.Fatalf("down --yes: %v", err)
		}
		if alive(up) {
			t.Errorf("cellplane up (pid %d) still runs", up)
		}
		if !strings.Contains(errOut, fmt.Sprintf("stopping cellplane up (pid %d)", up)) {
			t.Error("down did not say it stopped cellplane up")
		}
		checkAllStopped(t, in, all)
	})

	// Both ran well over the 30 s after which controller-runtime complains about
	// a logger never set, and the cell started a cluster's informers.
	for what, log := range map[string]string{"cellplane up": in.Log(), "the cell": cellLogAll(t, in)} {
		if strings.Contains(log, "log.SetLogger(...) was never called") {
			t.Errorf("%s warned that controller-runtime's logger was never set", what)
		}
	}
}

// runningPIDs maps the pid files of the instance (relative to its data
// directory) to the processes they name that still run.
func runningPIDs(t *testing.T, in *framework.Instance) map[string]int {
	t.Helper()
	out := map[string]int{}
	for _, f := range in.PIDFiles() {
		if pid, err := process.ReadPID(f); err == nil {
			rel, _ := filepath.Rel(in.DataDir, f)
			out[rel] = pid
		}
	}
	return out
}

// checkAllStopped wants the processes in pids gone, no pid file naming a live
// process, and no live process whose command line names the data directory
// (every process of an instance does).
func checkAllStopped(t *testing.T, in *framework.Instance, pids map[string]int) {
	t.Helper()
	for f, pid := range pids {
		if alive(pid) {
			t.Errorf("%s (pid %d) still runs", f, pid)
		}
	}
	if left := runningPIDs(t, in); len(left) > 0 {
		t.Errorf("pid files still name running processes: %v", left)
	}
	if ps := processesMentioning(in.DataDir); len(ps) > 0 {
		t.Errorf("processes of the data directory still run: %v", ps)
	}
	if _, err := os.Stat(datadir.EndpointFile(in.DataDir)); err == nil {
		t.Error("endpoint.json is still there: up did not stop cleanly")
	}
}
