package e2e

import (
	"fmt"
	"os"
	"slices"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awseks "github.com/aws/aws-sdk-go-v2/service/eks"
	"github.com/aws/aws-sdk-go-v2/service/eks/types"

	"github.com/cellplane/cellplane/internal/components"
	"github.com/cellplane/cellplane/test/framework"
)

// TestKubeletNodegroupSurvivesRestart kills cellplane, cell included, under
// a group of real nodes made with the CLI: the machines keep running and
// their Node stays Ready meanwhile; the restarted cell adopts them (the same
// processes, the same address claim) and scales the group up;
// UpdateNodegroupVersion replaces every machine; and 'nodegroup delete
// --wait' leaves nothing behind.
func TestKubeletNodegroupSurvivesRestart(t *testing.T) {
	ctx := ctxFor(t)
	if _, err := components.New(components.Config{Progress: os.Stderr}).Node(ctx, components.Default()); err != nil {
		t.Fatal(err)
	}
	in := framework.NewInstance(t, bins)
	in.Start(ctx)
	const cluster = "ng-krestart"
	createActiveWith(ctx, t, in, cluster, "--no-default-addons")
	kube := kubeClient(t, kubeconfig(ctx, t, in, cluster))
	cli := func(args ...string) string {
		t.Helper()
		out, errOut, err := in.CLI(ctx, args...)
		if err != nil {
			t.Fatalf("cellplane %v: %v\n%s", args, err, errOut)
		}
		return out
	}
	t.Cleanup(func() { _, _, _ = in.CLI(ctx, "nodegroup", "delete", cluster, "pool", "--wait") })
	cli("nodegroup", "create", cluster, "pool", "--type", "kubelet", "--nodes", "1", "--max", "2", "--wait")
	first := nodePIDs(t, in.DataDir, "machine.pid")
	if len(first) != 1 {
		t.Fatalf("machine runners %v, want 1", first)
	}
	var name string
	for n := range first {
		name = n
	}
	dir := groupDirOf(t, in.DataDir, name)
	before := traceMachine(t, dir, name, 4)

	killAll(t, in)
	for _, pid := range before.pids {
		if !alive(pid) {
			t.Fatalf("machine process %d died with cellplane", pid)
		}
	}
	if n := len(readyNodes(ctx, t, kube, "eks.amazonaws.com/nodegroup=pool")); n != 1 {
		t.Fatalf("%d Ready nodes with cellplane down, want 1", n)
	}
	in.Start(ctx)
	cli("nodegroup", "update", cluster, "pool", "--nodes", "2", "--wait")
	after := traceMachine(t, dir, name, 4)
	if !slices.Equal(before.pids, after.pids) || before.claim != after.claim {
		t.Fatalf("restart changed the machine: before %v (claim %d), after %v (claim %d)", before.pids, before.claim, after.pids, after.claim)
	}
	err := framework.Eventually(ctx, time.Minute, time.Second, func() error {
		if n := len(readyNodes(ctx, t, kube, "eks.amazonaws.com/nodegroup=pool")); n != 2 {
			return fmt.Errorf("%d Ready nodes, want 2", n)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	scaled := nodePIDs(t, in.DataDir, "machine.pid")

	// A version update replaces every machine, one at a time.
	sdk := sdkClient(t, in.DataDir)
	start := time.Now()
	up, err := sdk.UpdateNodegroupVersion(ctx, &awseks.UpdateNodegroupVersionInput{ClusterName: aws.String(cluster), NodegroupName: aws.String("pool")})
	if err != nil {
		t.Fatalf("UpdateNodegroupVersion: %v", err)
	}
	err = framework.Eventually(ctx, 4*time.Minute, time.Second, func() error {
		upd, err := sdk.DescribeUpdate(ctx, &awseks.DescribeUpdateInput{Name: aws.String(cluster), NodegroupName: aws.String("pool"), UpdateId: up.Update.Id})
		if err != nil {
			return err
		}
		if upd.Update.Status != types.UpdateStatusSuccessful {
			return fmt.Errorf("version update is %s", upd.Update.Status)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	waitNodegroup(ctx, t, sdk, cluster, "pool", types.NodegroupStatusActive)
	rolled := nodePIDs(t, in.DataDir, "machine.pid")
	for n, pid := range scaled {
		if rolled[n] == pid || rolled[n] == 0 {
			t.Fatalf("node %s was not replaced by the version update: before %v, after %v", n, scaled, rolled)
		}
	}
	if n := len(readyNodes(ctx, t, kube, "eks.amazonaws.com/nodegroup=pool")); n != 2 {
		t.Fatalf("%d Ready nodes after the version update, want 2", n)
	}
	t.Logf("version update replaced 2 real nodes in %s", time.Since(start).Round(100*time.Millisecond))
	if alive(before.pids[0]) {
		t.Errorf("the replaced machine's runner %d still runs", before.pids[0])
	}
	var traces []machineTrace
	for n := range rolled {
		traces = append(traces, traceMachine(t, dir, n, 4))
	}

	cli("nodegroup", "delete", cluster, "pool", "--wait")
	for _, m := range traces {
		m.assertGone(t)
	}
	if left := nodePIDs(t, in.DataDir, "machine.pid"); len(left) != 0 {
		t.Fatalf("machine pid files left: %v", left)
	}
	if _, err := os.Stat(dir); err == nil {
		t.Fatalf("node group directory %s left", dir)
	}
}
