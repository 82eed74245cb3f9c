package cli

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/cellplane/cellplane/internal/cli/clikit"
	"github.com/cellplane/cellplane/internal/runtime/process"
)

// sleeper starts /bin/sleep through the process runtime with its pid file at
// rel under dataDir, and kills it by PID at cleanup if down did not.
func sleeper(t *testing.T, dataDir, rel, arg string) (pid int, start uint64) {
	t.Helper()
	rt := process.New(process.Options{})
	defer rt.Close() // leaves it running, as a cell's runtime does
	p := filepath.Join(dataDir, filepath.FromSlash(rel))
	st, err := rt.Ensure(context.Background(), process.Spec{ID: rel, Path: "/bin/sleep", Args: []string{arg},
		StateDir: filepath.Dir(p), Name: strings.TrimSuffix(filepath.Base(p), ".pid")})
	if err != nil {
		t.Fatal(err)
	}
	start, err = process.StartTime(st.PID)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if process.Alive(st.PID, start) {
			_ = unix.Kill(st.PID, unix.SIGKILL)
		}
	})
	return st.PID, start
}

// TestDownAsksForTenants: with a tenant process running and no terminal, down
// without --yes refuses as a usage error and stops nothing, the store member
// included; --yes stops both; a second run finds nothing and succeeds.
func TestDownAsksForTenants(t *testing.T) {
	dir := t.TempDir()
	c := cli{t, dir}
	tenant, tStart := sleeper(t, dir, "cells/cell-1/clusters/acct/demo/logs/etcd-a.pid", "4242.1")
	store, sStart := sleeper(t, dir, "region/store/logs/etcd.pid", "4242.2")

	_, stderr, err := c.run("down")
	if err == nil || clikit.ExitCode(err) != 2 || !strings.Contains(err.Error(), "--yes") || !strings.Contains(err.Error(), "1 tenant cluster (1 process)") {
		t.Fatalf("down without --yes = %v (exit %d); want a usage error asking for --yes", err, clikit.ExitCode(err))
	}
	if !process.Alive(tenant, tStart) || !process.Alive(store, sStart) {
		t.Fatalf("down without confirmation stopped something (tenant alive %v, store alive %v)",
			process.Alive(tenant, tStart), process.Alive(store, sStart))
	}
	if !strings.Contains(stderr, "running on "+dir+": 1 tenant etcd member, 1 store etcd member") {
		t.Errorf("down did not say what runs:\n%s", stderr)
	}

	stdout, stderr, err := c.run("down", "--yes")
	if err != nil {
		t.Fatalf("down --yes: %v\n%s", err, stderr)
	}
	if process.Alive(tenant, tStart) || process.Alive(store, sStart) {
		t.Fatal("down --yes left a process running")
	}
	if !strings.Contains(stdout, "stopped 2 processes") || !strings.Contains(stderr, "stopping 1 tenant etcd member, 1 store etcd member ... done") {
		t.Errorf("down --yes printed:\n%s\n%s", stdout, stderr)
	}

	stdout, _, err = c.run("down")
	if err != nil || !strings.Contains(stdout, "nothing of cellplane runs on "+dir) {
		t.Fatalf("second down = %q, %v; want success saying nothing runs", stdout, err)
	}
}

// TestDownOwnProcessesNeedNoConfirmation: cellplane's own processes (a load
// balancer left by Ctrl-C) stop without a question.
func TestDownOwnProcessesNeedNoConfirmation(t *testing.T) {
	dir := t.TempDir()
	lb, start := sleeper(t, dir, "cells/cell-1/lb/lb.pid", "4242.3")
	stdout, stderr, err := cli{t, dir}.run("down")
	if err != nil || !strings.Contains(stdout, "stopped 1 process") {
		t.Fatalf("down = %q, %v\n%s", stdout, err, stderr)
	}
	if process.Alive(lb, start) {
		t.Fatal("the load balancer still runs")
	}
}

func TestCount(t *testing.T) {
	for n, want := range map[int]string{0: "0 processes", 1: "1 process", 3: "3 processes"} {
		if got := count(n, "process"); got != want {
			t.Errorf("count(%d) = %q, want %q", n, got, want)
		}
	}
	if got := count(2, "tenant cluster"); got != "2 tenant clusters" {
		t.Errorf("count(2, tenant cluster) = %q", got)
	}
	if got := listSome([]string{"a", "b", "c"}, 2); got != "a, b and 1 more" {
		t.Errorf("listSome = %q", got)
	}
}
