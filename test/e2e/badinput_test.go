package e2e

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cellplane/cellplane/test/framework"
)

// TestBadInput shows that bad requests get a clear error and change nothing.
func TestBadInput(t *testing.T) {
	ctx := ctxFor(t)
	in := framework.Shared(ctx, t, bins)
	createActive(ctx, t, in, "taken")
	clustersDir := filepath.Join(in.DataDir, "cells", "cell-1", "clusters")
	before := tree(t, clustersDir)

	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"name with a dot", []string{"cluster", "create", "bad.name"}, "cluster name"},
		{"name starting with a hyphen", []string{"cluster", "create", "--", "-bad"}, "cluster name"},
		{"name too long", []string{"cluster", "create", strings.Repeat("a", 101)}, "cluster name"},
		{"duplicate name", []string{"cluster", "create", "taken"}, "already exists"},
		{"unknown version", []string{"cluster", "create", "newer", "--version", "1.99"}, "1.99"},
		{"delete unknown", []string{"cluster", "delete", "nosuch"}, "nosuch"},
		{"describe unknown", []string{"cluster", "describe", "nosuch"}, "nosuch"},
		{"kubeconfig unknown", []string{"cluster", "kubeconfig", "nosuch"}, "nosuch"},
		{"no name", []string{"cluster", "create"}, "exactly one cluster name"},
		{"bad output", []string{"cluster", "list", "--output", "yaml"}, "--output"},
		{"bad tag", []string{"cluster", "create", "tagged", "--tag", "novalue"}, "key=value"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, errOut, err := in.CLI(ctx, tc.args...)
			if err == nil {
				t.Fatalf("want an error, got success: %s", out)
			}
			if !strings.Contains(errOut, tc.want) {
				t.Fatalf("error %q does not mention %q", errOut, tc.want)
			}
			if strings.Contains(errOut, "panic") || strings.Contains(errOut, "goroutine") {
				t.Fatalf("error leaks internals: %s", errOut)
			}
		})
	}
	names, err := in.Client().ListAllClusters(ctx)
	if err != nil || len(names) != 1 || names[0] != "taken" {
		t.Fatalf("bad input changed the cluster list: %v %v", names, err)
	}
	if after := tree(t, clustersDir); after != before {
		t.Fatalf("bad input changed files:\nbefore %s\nafter  %s", before, after)
	}

	t.Run("second up on the same data directory", func(t *testing.T) {
		second := &framework.Instance{T: t, Bins: bins, DataDir: in.DataDir, Block: in.Block}
		_, errOut, err := second.CLI(ctx, "up", "--address-block", in.Block)
		if err == nil || !strings.Contains(errOut, "already running") {
			t.Fatalf("want 'already running', got %v: %s", err, errOut)
		}
		if _, err := in.Client().DescribeCluster(ctx, "taken"); err != nil {
			t.Fatalf("the first instance was disturbed: %v", err)
		}
	})

	t.Run("second up on the same address block", func(t *testing.T) {
		other := &framework.Instance{T: t, Bins: bins, DataDir: t.TempDir(), Block: in.Block}
		_, errOut, err := other.CLI(ctx, "up", "--address-block", in.Block)
		if err == nil || !strings.Contains(errOut, "--address-block") {
			t.Fatalf("want an address clash naming --address-block, got %v: %s", err, errOut)
		}
		if n := len(other.PIDFiles()); n != 0 {
			t.Errorf("the refused instance started %d processes", n)
		}
		if _, err := in.Client().DescribeCluster(ctx, "taken"); err != nil {
			t.Fatalf("the first instance was disturbed: %v", err)
		}
	})
}

// tree lists the directories below dir (files change as components log).
func tree(t *testing.T, dir string) string {
	t.Helper()
	var out []string
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		sub, _ := os.ReadDir(filepath.Join(dir, e.Name()))
		for _, s := range sub {
			out = append(out, e.Name()+"/"+s.Name())
		}
	}
	return strings.Join(out, ",")
}
