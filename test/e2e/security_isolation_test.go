package e2e

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/cellplane/cellplane/api/v1alpha1"
	"github.com/cellplane/cellplane/internal/datadir"
	"github.com/cellplane/cellplane/internal/runtime/cgroup"
	"github.com/cellplane/cellplane/test/framework"
)

// TestSecurityIsolation attacks the walls between two clusters of one
// cellplane as a compromised component would: running as cluster A's user it
// tries to read cluster B's keys and the service's own secrets; it checks that
// each cluster's processes run in a cgroup of their own with the limits set,
// and that each API server, with a host name of its own, holds an identity
// lease of its own without fighting over it.
func TestSecurityIsolation(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("tenant isolation needs root")
	}
	ctx := ctxFor(t)
	in := framework.Shared(ctx, t, bins)
	names := []string{"iso-a", "iso-b"}
	var wg sync.WaitGroup
	for _, n := range names {
		wg.Go(func() { createActive(ctx, t, in, n) })
	}
	wg.Wait()
	if t.Failed() {
		t.FailNow()
	}
	active := time.Now()
	a, b := tenantOf(t, in, "iso-a"), tenantOf(t, in, "iso-b")

	t.Run("each cluster runs as a user of its own, without capabilities", func(t *testing.T) {
		if a.uid == 0 || a.uid == b.uid || a.gid == b.gid {
			t.Fatalf("cluster A runs as %d:%d, B as %d:%d; want two distinct unprivileged ids", a.uid, a.gid, b.uid, b.gid)
		}
		for _, tn := range []tenant{a, b} {
			for member, pid := range tn.pids {
				st := procStatus(t, pid)
				if st["Uid"] != strings.Repeat(strconv.Itoa(tn.uid)+"\t", 3)+strconv.Itoa(tn.uid) || st["CapEff"] != "0000000000000000" {
					t.Errorf("%s/%s (pid %d): Uid %q CapEff %q; want uid %d and no capabilities", tn.name, member, pid, st["Uid"], st["CapEff"], tn.uid)
				}
			}
		}
	})

	t.Run("cluster A's user cannot read B's keys or the service's secrets", func(t *testing.T) {
		// The helper runs as A's API server does: its uid, gid and groups.
		if out, err := asTenant(ctx, a, "cat", filepath.Join(a.dir, "pki", "ca.key")); err != nil {
			t.Fatalf("A's user cannot read its own CA key, so the helper proves nothing: %v %s", err, out)
		}
		targets := []string{
			filepath.Join(b.dir, "pki", "ca.key"), filepath.Join(b.dir, "pki", "etcd", "ca.key"),
			datadir.MasterKeyFile(in.DataDir),
		}
		for _, f := range targets {
			if _, err := os.Stat(f); err != nil {
				t.Fatalf("attack target missing, the test would prove nothing: %v", err)
			}
			if out, err := asTenant(ctx, a, "cat", f); err == nil || !strings.Contains(out, "Permission denied") {
				t.Errorf("A's user read %s: %v %q", f, err, out)
			}
		}
		// Every secret of the data directory outside A's own directory: every
		// file of B's, and every key, credential and store file elsewhere.
		secrets := secretsOutside(t, in.DataDir, a.dir, b.dir)
		readable, err := readableBy(ctx, a, secrets)
		if err != nil {
			t.Fatal(err)
		}
		if len(readable) > 0 {
			t.Errorf("A's user can read %d of %d secrets: %v", len(readable), len(secrets), readable)
		}
		t.Logf("A's user read none of %d secret files outside its own directory", len(secrets))
		if out, err := asTenant(ctx, a, "ls", filepath.Dir(a.dir)); err == nil {
			t.Errorf("A's user lists the other clusters' directories: %s", out)
		}
	})

	t.Run("each cluster has a cgroup of its own with its limits", func(t *testing.T) {
		ga, gb := cgroupsOf(t, a), cgroupsOf(t, b)
		for ctl, p := range ga {
			if p == gb[ctl] || !strings.HasSuffix(p, "."+a.name) {
				t.Errorf("%s cgroup of A is %q, of B %q: want one of each cluster's own", ctl, p, gb[ctl])
			}
		}
		checkLimits(ctx, t, ga)
	})

	t.Run("API servers hold distinct identity leases without conflicts", func(t *testing.T) {
		for _, tn := range []tenant{a, b} {
			checkIdentityLeases(ctx, t, in, tn, active)
		}
	})

	t.Run("deleting a cluster removes its cgroup", func(t *testing.T) {
		dirs := cgroupDirs(cgroupsOf(t, b))
		if _, errOut, err := in.CLI(ctx, "cluster", "delete", b.name, "--wait"); err != nil {
			t.Fatalf("cluster delete: %v %s", err, errOut)
		}
		for _, d := range dirs {
			if _, err := os.Stat(d); !os.IsNotExist(err) {
				t.Errorf("cgroup %s left after delete: %v", d, err)
			}
		}
	})
}

type tenant struct {
	name     string
	dir      string
	uid, gid int
	groups   []uint32
	pids     map[string]int
}

// tenantOf finds a cluster's directory and processes from the files the
// cell keeps (pid files), not from the tenant API.
func tenantOf(t *testing.T, in *framework.Instance, name string) tenant {
	t.Helper()
	dirs, _ := filepath.Glob(filepath.Join(datadir.CellDir(in.DataDir, 1), "clusters", "*", name))
	if len(dirs) != 1 {
		t.Fatalf("cluster directory of %s: found %v", name, dirs)
	}
	tn := tenant{name: name, dir: dirs[0], pids: map[string]int{}}
	files, _ := filepath.Glob(filepath.Join(tn.dir, "logs", "*.pid"))
	for _, f := range files {
		var pf struct{ PID int }
		b, err := os.ReadFile(f)
		if err != nil || json.Unmarshal(b, &pf) != nil || pf.PID == 0 {
			t.Fatalf("pid file %s: %v %s", f, err, b)
		}
		tn.pids[strings.TrimSuffix(filepath.Base(f), ".pid")] = pf.PID
	}
	if len(tn.pids) < 9 {
		t.Fatalf("cluster %s: %d processes, want 9 or more: %v", name, len(tn.pids), tn.pids)
	}
	st := procStatus(t, tn.pids["kube-apiserver-a"])
	tn.uid, _ = strconv.Atoi(strings.Fields(st["Uid"])[0])
	tn.gid, _ = strconv.Atoi(strings.Fields(st["Gid"])[0])
	for _, g := range strings.Fields(st["Groups"]) {
		n, _ := strconv.ParseUint(g, 10, 32)
		tn.groups = append(tn.groups, uint32(n))
	}
	return tn
}

func procStatus(t *testing.T, pid int) map[string]string {
	t.Helper()
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	out := map[string]string{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, _ := strings.Cut(sc.Text(), ":")
		out[k] = strings.TrimSpace(v)
	}
	return out
}

// asTenant runs a command as the tenant's processes run.
func asTenant(ctx context.Context, tn tenant, name string, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Dir = "/"
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{
		Uid: uint32(tn.uid), Gid: uint32(tn.gid), Groups: append([]uint32{}, tn.groups...)}} //nolint:gosec // G115: ids read from /proc
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// secretsOutside lists the files an attacker in one cluster wants: every
// file of the other cluster's directory, and every key, credential and store
// file of the data directory outside its own.
func secretsOutside(t *testing.T, dataDir, own, other string) []string {
	t.Helper()
	var out []string
	err := filepath.WalkDir(dataDir, func(p string, e fs.DirEntry, err error) error {
		switch {
		case err != nil:
			return nil // a file gone while we walk
		case p == own && e.IsDir():
			return filepath.SkipDir
		case !e.Type().IsRegular():
			return nil
		}
		base := filepath.Base(p)
		if strings.HasPrefix(p, other+"/") || strings.HasSuffix(base, ".key") || strings.Contains(p, "/keys/") ||
			base == "credentials" || base == "db" || strings.HasSuffix(base, ".wal") || strings.HasSuffix(base, "kubeconfig") {
			out = append(out, p)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(out) < 20 {
		t.Fatalf("only %d secrets found under %s; the walk missed them", len(out), dataDir)
	}
	return out
}

// readableBy asks the kernel, as the tenant, which of files it may read
// (test -r checks with the real ids, ACLs included), in one process.
func readableBy(ctx context.Context, tn tenant, files []string) ([]string, error) {
	out, err := asTenant(ctx, tn, "sh", append([]string{"-c", `for f; do [ -r "$f" ] && echo "$f"; done; exit 0`, "sh"}, files...)...)
	if err != nil {
		return nil, fmt.Errorf("checking files as the tenant: %w: %s", err, out)
	}
	return strings.Fields(out), nil
}

// cgroupsOf maps each controller to the cgroup all of a tenant's processes
// share, failing if they do not share one.
func cgroupsOf(t *testing.T, tn tenant) map[string]string {
	t.Helper()
	var first map[string]string
	for member, pid := range tn.pids {
		all, err := cgroup.ProcessGroups(pid)
		if err != nil {
			t.Fatal(err)
		}
		groups := map[string]string{}
		for _, ctl := range []string{"cpu", "memory", "pids", ""} {
			if p, ok := all[ctl]; ok {
				groups[ctl] = p
			}
		}
		if first == nil {
			first = groups
		} else if fmt.Sprint(groups) != fmt.Sprint(first) {
			t.Fatalf("%s/%s is in %v, other members in %v", tn.name, member, groups, first)
		}
	}
	// On a hybrid machine v2's path is the cell's own: v1 holds the limits.
	if _, ok := first["memory"]; ok {
		delete(first, "")
	}
	return first
}

func cgroupDirs(groups map[string]string) []string {
	var out []string
	for ctl, p := range groups {
		if ctl == "" {
			out = append(out, filepath.Join("/sys/fs/cgroup", p))
		} else {
			out = append(out, filepath.Join("/sys/fs/cgroup", ctl, p))
		}
	}
	return out
}

// checkLimits reads the defaults back from a settled cluster's groups: an
// even CPU share, a cap of half the machine's cores per 10 ms (the settled
// cap, written at the first pass after the cluster is ACTIVE and Ready, within
// 10 s of it), 2 GiB and what the three etcd members may hold at the default
// quota, 4096 tasks.
func checkLimits(ctx context.Context, t *testing.T, groups map[string]string) {
	t.Helper()
	memory := strconv.FormatInt(2<<30+3*v1alpha1.DefaultEtcdQuotaBytes, 10)
	quota := strconv.Itoa(cgroup.DefaultSettledCPUMaxMilli(runtime.NumCPU()) * 10)
	want := map[string]string{}
	if p, ok := groups["memory"]; ok {
		want[filepath.Join("/sys/fs/cgroup/cpu", groups["cpu"], "cpu.shares")] = "1024"
		want[filepath.Join("/sys/fs/cgroup/cpu", groups["cpu"], "cpu.cfs_period_us")] = "10000"
		want[filepath.Join("/sys/fs/cgroup/cpu", groups["cpu"], "cpu.cfs_quota_us")] = quota
		want[filepath.Join("/sys/fs/cgroup/memory", p, "memory.limit_in_bytes")] = memory
		want[filepath.Join("/sys/fs/cgroup/pids", groups["pids"], "pids.max")] = "4096"
	} else {
		d := filepath.Join("/sys/fs/cgroup", groups[""])
		want[filepath.Join(d, "cpu.weight")] = "100"
		want[filepath.Join(d, "cpu.max")] = quota + " 10000"
		want[filepath.Join(d, "memory.max")] = memory
		want[filepath.Join(d, "pids.max")] = "4096"
	}
	err := framework.Eventually(ctx, 30*time.Second, time.Second, func() error {
		var bad []string
		for f, v := range want {
			b, err := os.ReadFile(f)
			if err != nil || strings.TrimSpace(string(b)) != v {
				bad = append(bad, fmt.Sprintf("%s = %q, %v; want %s", f, b, err, v))
			}
		}
		if len(bad) > 0 {
			return errors.New(strings.Join(bad, "\n"))
		}
		return nil
	})
	if err != nil {
		t.Error(err)
	}
}

// checkIdentityLeases wants one identity lease per API server, each named by
// its own host name, and no "Failed to update lease" in either server's log
// for 20 s after the cluster became ACTIVE (two servers sharing one identity
// log it at every renewal, every 10 s).
func checkIdentityLeases(ctx context.Context, t *testing.T, in *framework.Instance, tn tenant, active time.Time) {
	t.Helper()
	kc := kubeconfig(ctx, t, in, tn.name)
	err := framework.Eventually(ctx, time.Minute, time.Second, func() error {
		out, err := kubectl(ctx, kc, "-n", "kube-system", "get", "leases", "-l", "apiserver.kubernetes.io/identity",
			"-o", `jsonpath={range .items[*]}{.metadata.name}={.metadata.labels.kubernetes\.io/hostname}{"\n"}{end}`)
		if err != nil {
			return err
		}
		got := strings.Fields(out)
		hosts := map[string]bool{}
		for _, l := range got {
			_, h, _ := strings.Cut(l, "=")
			hosts[h] = true
		}
		if len(got) != 2 || !hosts["kube-apiserver-a"] || !hosts["kube-apiserver-b"] {
			return fmt.Errorf("identity leases of %s: %v; want one for each of kube-apiserver-a and -b", tn.name, got)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	err = framework.Eventually(ctx, time.Minute, time.Second, func() error {
		for _, m := range []string{"kube-apiserver-a", "kube-apiserver-b"} {
			b, err := os.ReadFile(filepath.Join(tn.dir, "logs", m+".log"))
			if err != nil {
				return framework.Permanent(err)
			}
			if i := strings.Index(string(b), "Failed to update lease"); i >= 0 {
				return framework.Permanent(fmt.Errorf("%s/%s logs a lease conflict: %.300s", tn.name, m, b[i:]))
			}
		}
		if since := time.Since(active); since < 20*time.Second {
			return fmt.Errorf("no lease conflict after %s; watching until 20s", since.Round(time.Second))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
