package e2e

import (
	"fmt"
	"io/fs"
	"path/filepath"
	"testing"
	"time"

	"github.com/cellplane/cellplane/internal/runtime/process"
	"github.com/cellplane/cellplane/test/framework"
)

// TestHollowNodegroupSurvivesRestart kills cellplane, cell included, under
// a hollow node group made with the CLI: the nodes keep running and stay
// Ready meanwhile, the restarted cell adopts them (same process IDs) and
// scales the group up, and 'nodegroup delete --wait' leaves no process.
func TestHollowNodegroupSurvivesRestart(t *testing.T) {
	ctx := ctxFor(t)
	in := framework.NewInstance(t, bins)
	in.Start(ctx)
	createActive(ctx, t, in, "ng-restart")
	kube := kubeClient(t, kubeconfig(ctx, t, in, "ng-restart"))
	cli := func(args ...string) string {
		t.Helper()
		out, errOut, err := in.CLI(ctx, args...)
		if err != nil {
			t.Fatalf("cellplane %v: %v\n%s", args, err, errOut)
		}
		return out
	}
	cli("nodegroup", "create", "ng-restart", "pool", "--type", "hollow", "--nodes", "3", "--max", "4", "--wait")
	before := kubemarkPIDs(t, in.DataDir)
	if len(before) != 3 {
		t.Fatalf("kubemark processes %v, want 3", before)
	}

	killAll(t, in)
	if n := len(readyNodes(ctx, t, kube, "eks.amazonaws.com/nodegroup=pool")); n != 3 {
		t.Fatalf("%d Ready nodes with cellplane down, want 3", n)
	}
	in.Start(ctx)
	cli("nodegroup", "update", "ng-restart", "pool", "--nodes", "4", "--wait")
	after := kubemarkPIDs(t, in.DataDir)
	for name, pid := range before {
		if after[name] != pid {
			t.Fatalf("restart changed node processes:\nbefore %v\nafter  %v", before, after)
		}
	}
	err := framework.Eventually(ctx, time.Minute, time.Second, func() error {
		if n := len(readyNodes(ctx, t, kube, "eks.amazonaws.com/nodegroup=pool")); n != 4 {
			return fmt.Errorf("%d Ready nodes, want 4", n)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	cli("nodegroup", "delete", "ng-restart", "pool", "--wait")
	for name, pid := range after {
		if alive(pid) {
			t.Errorf("node %s (pid %d) still runs after the group was deleted", name, pid)
		}
	}
	if left := kubemarkPIDs(t, in.DataDir); len(left) != 0 {
		t.Fatalf("node pid files left: %v", left)
	}
}

// kubemarkPIDs maps each hollow node's directory to the PID of its process.
func kubemarkPIDs(t *testing.T, dataDir string) map[string]int {
	t.Helper()
	out := map[string]int{}
	_ = filepath.WalkDir(dataDir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || d.Name() != "kubemark.pid" {
			return nil
		}
		pid, err := process.ReadPID(path)
		if err == nil {
			out[filepath.Base(filepath.Dir(path))] = pid
		}
		return nil
	})
	return out
}
