package e2e

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/cellplane/cellplane/internal/client"
	"github.com/cellplane/cellplane/internal/errdefs"
	"github.com/cellplane/cellplane/internal/runtime/process"
	"github.com/cellplane/cellplane/test/framework"
)

// cellRow is one cell in `cellplane cell list -o json`.
type cellRow struct {
	Name     string `json:"name"`
	State    string `json:"state"`
	Clusters int    `json:"clusters"`
	Capacity int    `json:"capacity"`
	PID      int    `json:"pid"`
}

func cells(ctx context.Context, t *testing.T, in *framework.Instance) map[string]cellRow {
	t.Helper()
	out, errOut, err := in.CLI(ctx, "cell", "list", "-o", "json")
	if err != nil {
		t.Fatalf("cell list: %v\n%s", err, errOut)
	}
	var resp struct{ Cells []cellRow }
	if err := json.Unmarshal([]byte(out), &resp); err != nil {
		t.Fatalf("cell list output: %v\n%s", err, out)
	}
	m := map[string]cellRow{}
	for _, c := range resp.Cells {
		m[c.Name] = c
	}
	return m
}

func cellCLI(ctx context.Context, t *testing.T, in *framework.Instance, args ...string) {
	t.Helper()
	if _, errOut, err := in.CLI(ctx, append([]string{"cell"}, args...)...); err != nil {
		t.Fatalf("cell %v: %v\n%s", args, err, errOut)
	}
}

func waitCellState(ctx context.Context, t *testing.T, in *framework.Instance, name, want string) {
	t.Helper()
	err := framework.Eventually(ctx, time.Minute, 500*time.Millisecond, func() error {
		if got := cells(ctx, t, in)[name].State; got != want {
			return fmt.Errorf("%s is %s, want %s", name, got, want)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func cellOf(ctx context.Context, t *testing.T, in *framework.Instance, name string) string {
	t.Helper()
	cl := describe(ctx, t, in, name)
	if cl.Cellplane == nil || cl.Cellplane.Cell == "" {
		t.Fatalf("cluster %s reports no cell", name)
	}
	return cl.Cellplane.Cell
}

// TestCellPlacement runs two cells and shows placement spreading clusters by free
// capacity, refusing when every cell is full, and steering around a drained cell,
// with real control planes in both cells.
func TestCellPlacement(t *testing.T) {
	ctx := ctxFor(t)
	in := framework.NewInstance(t, bins)
	in.Cells = 2
	in.Start(ctx)
	c := in.Client()

	got := cells(ctx, t, in)
	for _, name := range []string{"cell-1", "cell-2"} {
		if got[name].State != "Available" || got[name].Capacity != 1000 || got[name].PID == 0 {
			t.Fatalf("fresh %s = %+v, want Available with the default capacity 1000 and a PID", name, got[name])
		}
	}
	cellCLI(ctx, t, in, "update", "cell-1", "--capacity", "1")
	cellCLI(ctx, t, in, "update", "cell-2", "--capacity", "1")

	for _, name := range []string{"p1", "p2"} {
		if _, err := c.CreateCluster(ctx, client.CreateClusterInput{Name: name}); err != nil {
			t.Fatal(err)
		}
	}
	if a, b := cellOf(ctx, t, in, "p1"), cellOf(ctx, t, in, "p2"); a == b {
		t.Fatalf("p1 and p2 both went to %s; placement must take the cell with most room", a)
	}
	// Both cells are full: the create fails with EKS's limit error and stores nothing.
	_, err := c.CreateCluster(ctx, client.CreateClusterInput{Name: "p3"})
	if !errors.Is(err, errdefs.ErrLimitExceeded) {
		t.Fatalf("create with every cell full = %v, want ResourceLimitExceededException", err)
	}
	t.Logf("full region says: %v", err)
	if _, err := c.DescribeCluster(ctx, "p3"); !errors.Is(err, errdefs.ErrNotFound) {
		t.Fatalf("a refused create left a cluster behind: %v", err)
	}

	// More room everywhere, but cell-1 drains: the next cluster must go to cell-2.
	cellCLI(ctx, t, in, "update", "cell-1", "--capacity", "5")
	cellCLI(ctx, t, in, "update", "cell-2", "--capacity", "2")
	cellCLI(ctx, t, in, "drain", "cell-1")
	if st := cells(ctx, t, in)["cell-1"].State; st != "Draining" {
		t.Fatalf("cell-1 is %s after drain", st)
	}
	if _, err := c.CreateCluster(ctx, client.CreateClusterInput{Name: "p3"}); err != nil {
		t.Fatal(err)
	}
	if cell := cellOf(ctx, t, in, "p3"); cell != "cell-2" {
		t.Fatalf("p3 went to %s although cell-1 drains", cell)
	}
	for _, name := range []string{"p1", "p2", "p3"} {
		waitStatus(t, in, name, "ACTIVE")
	}
	got = cells(ctx, t, in)
	if got["cell-1"].Clusters != 1 || got["cell-2"].Clusters != 2 || got["cell-2"].State != "Full" {
		t.Fatalf("cells after placement = %+v, want cell-1 with 1 and cell-2 full with 2", got)
	}
	// Undrained, cell-1 takes the next one.
	cellCLI(ctx, t, in, "drain", "cell-1", "--undo")
	if _, err := c.CreateCluster(ctx, client.CreateClusterInput{Name: "p4"}); err != nil {
		t.Fatal(err)
	}
	if cell := cellOf(ctx, t, in, "p4"); cell != "cell-1" {
		t.Fatalf("p4 went to %s, want cell-1 after the drain ended", cell)
	}

	// Bad operator input: clear errors, nothing changed.
	for _, args := range [][]string{
		{"update", "cell-9", "--capacity", "3"},
		{"update", "cell-1", "--capacity", "-1"},
		{"update", "cell-1"},
		{"drain", "nope"},
		{"drain"},
	} {
		if _, errOut, err := in.CLI(ctx, append([]string{"cell"}, args...)...); err == nil {
			t.Errorf("cell %v succeeded", args)
		} else {
			t.Logf("cell %v: %s", args, errOut)
		}
	}
	if got := cells(ctx, t, in)["cell-1"]; got.Capacity != 5 || got.State != "Available" {
		t.Errorf("cell-1 changed by bad input: %+v", got)
	}
}

// TestCellStaticStability stops one cell's controllers, then the whole region,
// with real control planes in two cells:
//   - with cell-1's controllers frozen, its cluster keeps serving, placement
//     avoids the cell, and cell-2 creates, updates and deletes normally; a delete
//     asked of the frozen cell completes once it comes back;
//   - with the regional API and its store dead, both clusters keep serving and a
//     cell still heals its cluster (a killed API server is restarted); when the
//     region returns, its view converges on what the cell did meanwhile.
func TestCellStaticStability(t *testing.T) {
	ctx := ctxFor(t)
	in := framework.NewInstance(t, bins)
	in.Cells = 2
	in.Start(ctx)
	c := in.Client()

	createActive(ctx, t, in, "frozen")
	createActive(ctx, t, in, "steady")
	if a, b := cellOf(ctx, t, in, "frozen"), cellOf(ctx, t, in, "steady"); a != "cell-1" || b != "cell-2" {
		t.Fatalf("frozen in %s and steady in %s; want cell-1 and cell-2", a, b)
	}
	frozenKC, steadyKC := kubeconfig(ctx, t, in, "frozen"), kubeconfig(ctx, t, in, "steady")
	for _, kc := range []string{frozenKC, steadyKC} {
		if _, err := kubectl(ctx, kc, "create", "configmap", "before", "--from-literal=k=v"); err != nil {
			t.Fatal(err)
		}
	}

	// One cell's controllers stop (frozen, as a hung process would be).
	cell1 := in.CellPID(1)
	if err := syscall.Kill(cell1, syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	resumed := false
	defer func() {
		if !resumed {
			_ = syscall.Kill(cell1, syscall.SIGCONT)
		}
	}()
	if _, err := kubectl(ctx, frozenKC, "create", "configmap", "while-frozen", "--from-literal=k=v"); err != nil {
		t.Fatalf("a cluster of the frozen cell refused a write: %v", err)
	}
	waitCellState(ctx, t, in, "cell-1", "Unreachable")
	start := time.Now()
	createActive(ctx, t, in, "elsewhere")
	if cell := cellOf(ctx, t, in, "elsewhere"); cell != "cell-2" {
		t.Fatalf("a cluster was placed in %s while cell-1 was unreachable", cell)
	}
	t.Logf("created a cluster in cell-2 in %s with cell-1 frozen", time.Since(start).Round(time.Millisecond))
	upd, err := c.UpdateClusterConfig(ctx, "steady", client.UpdateClusterConfigInput{
		Logging: json.RawMessage(`{"clusterLogging":[{"types":["api"],"enabled":true}]}`)})
	if err != nil || upd.Status != "Successful" {
		t.Fatalf("update of a cell-2 cluster with cell-1 frozen: %+v, %v", upd, err)
	}
	steadyARN := describe(ctx, t, in, "steady").Arn
	if err := c.TagResource(ctx, steadyARN, map[string]string{"team": "core"}); err != nil {
		t.Fatal(err)
	}
	elsewherePIDs := componentPIDs(t, describe(ctx, t, in, "elsewhere"))
	if _, err := c.DeleteCluster(ctx, "elsewhere"); err != nil {
		t.Fatal(err)
	}
	waitDeleted(ctx, t, c, "elsewhere", elsewherePIDs)
	// A delete asked of the frozen cell waits for it; meanwhile the cluster serves.
	frozenPIDs := componentPIDs(t, describe(ctx, t, in, "frozen"))
	if _, err := c.DeleteCluster(ctx, "frozen"); err != nil {
		t.Fatal(err)
	}
	if _, err := kubectl(ctx, frozenKC, "get", "configmap", "while-frozen"); err != nil {
		t.Fatalf("the frozen cell's cluster stopped serving: %v", err)
	}
	if st := describe(ctx, t, in, "frozen").Status; st != "DELETING" {
		t.Fatalf("frozen is %s after its delete was accepted, want DELETING", st)
	}

	// The cell comes back: the region's view converges.
	if err := syscall.Kill(cell1, syscall.SIGCONT); err != nil {
		t.Fatal(err)
	}
	resumed = true
	waitDeleted(ctx, t, c, "frozen", frozenPIDs)
	waitCellState(ctx, t, in, "cell-1", "Available")

	// The region goes away entirely: cellplane up killed, its store killed.
	before := componentPIDs(t, describe(ctx, t, in, "steady"))
	in.Kill()
	regionPIDs := regionStorePIDs(t, in)
	for _, pid := range regionPIDs {
		if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
	}
	t.Logf("killed cellplane up and the region store (pids %v)", regionPIDs)
	cell2 := in.CellPID(2)
	if err := syscall.Kill(before["kube-apiserver-a"], syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	apiserverPID := filepath.Join(in.DataDir, "cells", "cell-2", "clusters", "acct-000000000000", "steady", "logs", "kube-apiserver-a.pid")
	var healed int
	err = framework.Eventually(ctx, time.Minute, 200*time.Millisecond, func() error {
		pid, err := process.ReadPID(apiserverPID)
		if err != nil || pid == before["kube-apiserver-a"] {
			return fmt.Errorf("kube-apiserver-a not restarted yet: %v", err)
		}
		healed = pid
		return nil
	})
	if err != nil {
		t.Fatalf("cell-2 did not heal its cluster with the region down: %v", err)
	}
	for i := 0; i < 5; i++ {
		if _, err := kubectl(ctx, steadyKC, "create", "configmap", fmt.Sprintf("region-down-%d", i), "--from-literal=k=v"); err != nil {
			t.Fatalf("cluster refused a write with the region down: %v", err)
		}
	}
	if in.CellPID(2) != cell2 {
		t.Fatal("cell-2's controllers restarted while the region was down")
	}

	// The region returns: its view shows what the cell did.
	in.Start(ctx)
	err = framework.Eventually(ctx, 2*time.Minute, 250*time.Millisecond, func() error {
		cl, err := describeFull(ctx, in, "steady") // PIDs are the operator's to see
		if err != nil {
			return err
		}
		for _, comp := range cl.Cellplane.Components {
			if comp.Name == "kube-apiserver-a" && (comp.PID != healed || comp.Restarts < 1 || !comp.Ready) {
				return fmt.Errorf("region shows kube-apiserver-a as %+v, want pid %d, ready, restarted", comp, healed)
			}
		}
		if cl.Status != "ACTIVE" {
			return fmt.Errorf("steady is %s", cl.Status)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if in.CellPID(2) != cell2 {
		t.Error("the region's return restarted cell-2's controllers instead of adopting them")
	}
	for _, name := range []string{"before", "region-down-4"} {
		if _, err := kubectl(ctx, steadyKC, "get", "configmap", name); err != nil {
			t.Errorf("configmap %s lost: %v", name, err)
		}
	}
	if tags, err := c.ListTagsForResource(ctx, steadyARN); err != nil || tags["team"] != "core" {
		t.Errorf("tags of steady after the outage = %v, %v", tags, err)
	}
}

// regionStorePIDs finds the region store's processes from their pid files.
func regionStorePIDs(t *testing.T, in *framework.Instance) []int {
	t.Helper()
	var pids []int
	for _, name := range []string{"kube-apiserver", "etcd"} {
		pid, err := process.ReadPID(filepath.Join(in.DataDir, "region", "store", "logs", name+".pid"))
		if err != nil {
			t.Fatal(err)
		}
		pids = append(pids, pid)
	}
	return pids
}

// waitDeleted waits until the region no longer knows the cluster and none of its
// processes runs.
func waitDeleted(ctx context.Context, t *testing.T, c *client.Client, name string, pids map[string]int) {
	t.Helper()
	err := framework.Eventually(ctx, 2*time.Minute, 250*time.Millisecond, func() error {
		if _, err := c.DescribeCluster(ctx, name); !errors.Is(err, errdefs.ErrNotFound) {
			return fmt.Errorf("%s still there: %v", name, err)
		}
		for comp, pid := range pids {
			if alive(pid) {
				return fmt.Errorf("%s of %s (pid %d) still runs", comp, name, pid)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
