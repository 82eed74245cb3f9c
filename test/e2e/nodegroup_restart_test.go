package e2e

import (
	"fmt"
	"io/fs"
	"path/filepath"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awseks "github.com/aws/aws-sdk-go-v2/service/eks"
	"github.com/aws/aws-sdk-go-v2/service/eks/types"

	"github.com/cellplane/cellplane/internal/runtime/process"
	"github.com/cellplane/cellplane/test/framework"
)

// TestHollowNodegroupSurvivesRestart kills cellplane, cell included, under
// a hollow node group made with the CLI: the nodes keep running and stay
// Ready meanwhile, the restarted cell adopts them (same process IDs) and
// scales the group up; UpdateNodegroupVersion replaces every node; and
// 'nodegroup delete --wait' leaves no process.
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
	before := nodePIDs(t, in.DataDir, "kubemark.pid")
	if len(before) != 3 {
		t.Fatalf("kubemark processes %v, want 3", before)
	}

	killAll(t, in)
	if n := len(readyNodes(ctx, t, kube, "eks.amazonaws.com/nodegroup=pool")); n != 3 {
		t.Fatalf("%d Ready nodes with cellplane down, want 3", n)
	}
	in.Start(ctx)
	cli("nodegroup", "update", "ng-restart", "pool", "--nodes", "4", "--wait")
	after := nodePIDs(t, in.DataDir, "kubemark.pid")
	var err error
	for name, pid := range before {
		if after[name] != pid {
			t.Fatalf("restart changed node processes:\nbefore %v\nafter  %v", before, after)
		}
	}
	err = framework.Eventually(ctx, time.Minute, time.Second, func() error {
		if n := len(readyNodes(ctx, t, kube, "eks.amazonaws.com/nodegroup=pool")); n != 4 {
			return fmt.Errorf("%d Ready nodes, want 4", n)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}

	// A version update replaces every node, one at a time (maxUnavailable 1).
	sdk := sdkClient(t, in.DataDir)
	up, err := sdk.UpdateNodegroupVersion(ctx, &awseks.UpdateNodegroupVersionInput{ClusterName: aws.String("ng-restart"), NodegroupName: aws.String("pool")})
	if err != nil {
		t.Fatalf("UpdateNodegroupVersion: %v", err)
	}
	waitNodegroup(ctx, t, sdk, "ng-restart", "pool", types.NodegroupStatusActive)
	upd, err := sdk.DescribeUpdate(ctx, &awseks.DescribeUpdateInput{Name: aws.String("ng-restart"), NodegroupName: aws.String("pool"), UpdateId: up.Update.Id})
	if err != nil || upd.Update.Status != types.UpdateStatusSuccessful || upd.Update.Type != types.UpdateTypeVersionUpdate {
		t.Fatalf("version update: %+v %v", upd, err)
	}
	rolled := nodePIDs(t, in.DataDir, "kubemark.pid")
	for name, pid := range after {
		if rolled[name] == pid || rolled[name] == 0 {
			t.Fatalf("node %s was not replaced by the version update: before %v, after %v", name, after, rolled)
		}
	}
	if n := len(readyNodes(ctx, t, kube, "eks.amazonaws.com/nodegroup=pool")); n != 4 {
		t.Fatalf("%d Ready nodes after the version update, want 4", n)
	}
	after = rolled
	cli("nodegroup", "delete", "ng-restart", "pool", "--wait")
	for name, pid := range after {
		if alive(pid) {
			t.Errorf("node %s (pid %d) still runs after the group was deleted", name, pid)
		}
	}
	if left := nodePIDs(t, in.DataDir, "kubemark.pid"); len(left) != 0 {
		t.Fatalf("node pid files left: %v", left)
	}
}

// nodePIDs maps each node's directory to the PID in its pid file:
// kubemark.pid for a hollow node, machine.pid for a real node's runner.
func nodePIDs(t *testing.T, dataDir, pidFile string) map[string]int {
	t.Helper()
	out := map[string]int{}
	_ = filepath.WalkDir(dataDir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || d.Name() != pidFile {
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
