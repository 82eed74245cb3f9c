package e2e

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"syscall"
	"testing"
	"time"

	"github.com/cellplane/cellplane/api/v1alpha1"
	"github.com/cellplane/cellplane/internal/errdefs"
	"github.com/cellplane/cellplane/test/framework"
)

// TestStaticStability kills cellplane outright (cellplane up and the cell's own
// process) and shows the cluster keeps serving, then that a restart adopts every
// process instead of restarting it.
func TestStaticStability(t *testing.T) {
	ctx := ctxFor(t)
	in := framework.NewInstance(t, bins)
	in.Start(ctx)
	cl := createActive(ctx, t, in, "steady")
	before := componentPIDs(t, cl)
	kc := kubeconfig(ctx, t, in, "steady")
	if _, err := kubectl(ctx, kc, "create", "configmap", "before-kill", "--from-literal=k=v"); err != nil {
		t.Fatal(err)
	}

	killAll(t, in)
	for i := 0; i < 5; i++ {
		if _, err := kubectl(ctx, kc, "get", "configmap", "before-kill"); err != nil {
			t.Fatalf("cluster stopped serving with cellplane down: %v", err)
		}
	}
	if _, err := kubectl(ctx, kc, "create", "configmap", "while-down", "--from-literal=k=v"); err != nil {
		t.Fatalf("cluster refused a write with cellplane down: %v", err)
	}

	in.Start(ctx)
	err := framework.Eventually(ctx, 60*time.Second, 250*time.Millisecond, func() error {
		c := describe(ctx, t, in, "steady")
		if c.Status != "ACTIVE" {
			return fmt.Errorf("status %s", c.Status)
		}
		after, err := pidsOf(c)
		if err != nil {
			return err
		}
		if !reflect.DeepEqual(before, after) {
			return framework.Permanent(fmt.Errorf("restart changed process IDs:\nbefore %v\nafter  %v", before, after))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"before-kill", "while-down"} {
		if _, err := kubectl(ctx, kc, "get", "configmap", name); err != nil {
			t.Errorf("configmap %s lost: %v", name, err)
		}
	}
}

// TestKillDuringCreateAndDelete kills cellplane while a cluster is being created and
// again while it is being deleted; each time a restart finishes the job.
func TestKillDuringCreateAndDelete(t *testing.T) {
	ctx := ctxFor(t)
	in := framework.NewInstance(t, bins)
	in.Start(ctx)
	clusterDir := filepath.Join(in.DataDir, "cells", "cell-1", "clusters", v1alpha1.Namespace(v1alpha1.DefaultAccount), "interrupted")

	if _, errOut, err := in.CLI(ctx, "cluster", "create", "interrupted"); err != nil {
		t.Fatalf("create: %v\n%s", err, errOut)
	}
	// Kill as soon as the first member's process exists: mid-way through starting the plane.
	err := framework.Eventually(ctx, 2*time.Minute, 20*time.Millisecond, func() error {
		_, err := os.Stat(filepath.Join(clusterDir, "logs", "etcd-a.pid"))
		return err
	})
	if err != nil {
		t.Fatalf("creation never started: %v", err)
	}
	killAll(t, in)
	t.Logf("killed cellplane with %d processes started", len(in.PIDFiles()))
	in.Start(ctx)
	out, errOut, err := in.CLI(ctx, "cluster", "create", "interrupted", "--wait")
	if err == nil {
		t.Fatalf("second create of the same name must fail as a duplicate, got success: %s", out)
	}
	t.Logf("duplicate create says: %s", errOut)
	waitStatus(t, in, "interrupted", "ACTIVE")
	c := describe(ctx, t, in, "interrupted")
	componentPIDs(t, c)
	// Exactly one process per member: a restart that lost track of a process it
	// had started would start a second copy.
	if procs := processesMentioning(clusterDir + "/"); len(procs) != 11 {
		t.Errorf("want 11 processes of the cluster, found %d: %v", len(procs), procs)
	}

	if _, errOut, err := in.CLI(ctx, "cluster", "delete", "interrupted"); err != nil {
		t.Fatalf("delete: %v\n%s", err, errOut)
	}
	killAll(t, in)
	in.Start(ctx)
	err = framework.Eventually(ctx, 2*time.Minute, 250*time.Millisecond, func() error {
		_, err := in.Client().DescribeCluster(ctx, "interrupted")
		if errors.Is(err, errdefs.ErrNotFound) {
			return nil
		}
		return fmt.Errorf("still there: %v", err)
	})
	if err != nil {
		t.Fatal(err)
	}
	for name, pid := range componentPIDs(t, c) {
		if alive(pid) {
			t.Errorf("%s (pid %d) survived the delete", name, pid)
		}
	}
	if procs := processesMentioning(clusterDir + "/"); len(procs) != 0 {
		t.Errorf("processes of the deleted cluster still run: %v", procs)
	}
	if _, err := os.Stat(clusterDir); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("cluster directory left behind: %v", err)
	}
}

// killAll kills cellplane up and the process of its one cell with SIGKILL, as a
// crash of the machine's cellplane would.
func killAll(t *testing.T, in *framework.Instance) {
	t.Helper()
	cell := in.CellPID(1)
	in.Kill()
	if err := syscall.Kill(cell, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
}

func waitStatus(t *testing.T, in *framework.Instance, name, want string) {
	t.Helper()
	ctx := ctxFor(t)
	err := framework.Eventually(ctx, 3*time.Minute, 250*time.Millisecond, func() error {
		c, err := in.Client().DescribeCluster(ctx, name)
		if err != nil {
			return err
		}
		if c.Status == "FAILED" {
			return framework.Permanent(fmt.Errorf("cluster FAILED: %+v", c.Cellplane))
		}
		if c.Status != want {
			return fmt.Errorf("status %s, want %s", c.Status, want)
		}
		return nil
	})
	if err != nil {
		t.Fatalf("%v\ncellplane log:\n%s", err, in.Log())
	}
}
