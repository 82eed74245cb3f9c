package cgroup

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// This machine's layout: v1 controllers, v2 in a hybrid mount with none.
const hybridMountinfo = `25 30 0:22 / /sys/fs/cgroup ro,nosuid - tmpfs tmpfs ro,mode=755
26 25 0:23 / /sys/fs/cgroup/unified rw,nosuid - cgroup2 cgroup2 rw
27 25 0:24 / /sys/fs/cgroup/cpu rw,nosuid - cgroup cgroup rw,cpu
28 25 0:25 / /sys/fs/cgroup/memory rw,nosuid - cgroup cgroup rw,memory
29 25 0:26 / /sys/fs/cgroup/pids rw,nosuid - cgroup cgroup rw,pids
30 25 0:27 / /sys/fs/cgroup/cpuacct rw,nosuid - cgroup cgroup rw,cpuacct
`

const hybridOwn = `8:pids:/
4:memory:/process_api/abc
1:cpu:/
0::/
`

func TestDetect(t *testing.T) {
	ctl := func(have ...string) func(string) ([]string, error) {
		return func(string) ([]string, error) { return have, nil }
	}
	for _, tc := range []struct {
		name      string
		mountinfo string
		own       string
		ctl       func(string) ([]string, error)
		version   Version
		parents   map[string]string
		wantErr   bool
	}{
		{
			name: "hybrid: v2 without controllers, so v1", mountinfo: hybridMountinfo, own: hybridOwn, ctl: ctl("hugetlb"),
			version: V1, parents: map[string]string{"cpu": "/sys/fs/cgroup/cpu", "memory": "/sys/fs/cgroup/memory/process_api/abc", "pids": "/sys/fs/cgroup/pids"},
		},
		{
			name:      "pure v2",
			mountinfo: "25 30 0:22 / /sys/fs/cgroup rw - cgroup2 cgroup2 rw\n",
			own:       "0::/system.slice/cellplane.service\n", ctl: ctl("cpuset", "cpu", "io", "memory", "pids"),
			version: V2, parents: map[string]string{"": "/sys/fs/cgroup/system.slice/cellplane.service"},
		},
		{
			name:      "namespaced v2 mount: the mount's root is our group",
			mountinfo: "25 30 0:22 /docker/x /sys/fs/cgroup rw - cgroup2 cgroup2 rw\n",
			own:       "0::/docker/x\n", ctl: ctl("cpu", "memory", "pids"),
			version: V2, parents: map[string]string{"": "/sys/fs/cgroup"},
		},
		{
			name:      "v1 with cpu and cpuacct mounted together",
			mountinfo: "27 25 0:24 / /sys/fs/cgroup/cpu,cpuacct rw - cgroup cgroup rw,cpu,cpuacct\n28 25 0:25 / /sys/fs/cgroup/memory rw - cgroup cgroup rw,memory\n29 25 0:26 / /sys/fs/cgroup/pids rw - cgroup cgroup rw,pids\n",
			own:       "3:cpu,cpuacct:/a\n2:memory:/a\n1:pids:/a\n", ctl: ctl(),
			version: V1, parents: map[string]string{"cpu": "/sys/fs/cgroup/cpu,cpuacct/a", "memory": "/sys/fs/cgroup/memory/a", "pids": "/sys/fs/cgroup/pids/a"},
		},
		{
			name:      "v1 without pids",
			mountinfo: "27 25 0:24 / /sys/fs/cgroup/cpu rw - cgroup cgroup rw,cpu\n28 25 0:25 / /sys/fs/cgroup/memory rw - cgroup cgroup rw,memory\n",
			own:       "2:cpu:/\n1:memory:/\n", ctl: ctl(), wantErr: true,
		},
		{name: "no cgroups at all", mountinfo: "", own: "", ctl: ctl(), wantErr: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m, err := detect(parseMountinfo([]byte(tc.mountinfo)), parseOwn([]byte(tc.own)), tc.ctl)
			if tc.wantErr {
				if !errors.Is(err, ErrUnavailable) {
					t.Fatalf("err %v, want ErrUnavailable", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if m.version != tc.version || fmt.Sprint(m.parents) != fmt.Sprint(tc.parents) {
				t.Fatalf("got v%d %v, want v%d %v", m.version, m.parents, tc.version, tc.parents)
			}
		})
	}
}

func TestLimitFiles(t *testing.T) {
	l := Limits{CPUWeight: 50, CPUMaxMilli: 1500, MemoryBytes: 1 << 30, Pids: 100}
	v1 := (&Manager{version: V1, parents: map[string]string{"cpu": "/c", "memory": "/m", "pids": "/p"}}).Group("x/y")
	if got, want := v1.limitFiles(l), []limitFile{
		{"/c/x/y/cpu.shares", "512"}, {"/c/x/y/cpu.cfs_period_us", "10000"}, {"/c/x/y/cpu.cfs_quota_us", "15000"},
		{"/m/x/y/memory.limit_in_bytes", "1073741824"}, {"/p/x/y/pids.max", "100"},
	}; !slices.Equal(got, want) {
		t.Errorf("v1: %v, want %v (the period before the quota)", got, want)
	}
	v2 := (&Manager{version: V2, parents: map[string]string{"": "/u"}}).Group("../../x")
	if got, want := v2.limitFiles(l), []limitFile{
		{"/u/x/cpu.weight", "50"}, {"/u/x/cpu.max", "15000 10000"}, {"/u/x/memory.max", "1073741824"}, {"/u/x/pids.max", "100"},
	}; !slices.Equal(got, want) {
		t.Errorf("v2 (a name climbing out stays inside): %v, want %v", got, want)
	}
	l.CPUMaxMilli = 0
	if got := v1.limitFiles(l)[2]; got != (limitFile{"/c/x/y/cpu.cfs_quota_us", "-1"}) {
		t.Errorf("v1 without a cap: %v, want a quota of -1", got)
	}
	if got := v2.limitFiles(l)[1]; got != (limitFile{"/u/x/cpu.max", "max 10000"}) {
		t.Errorf("v2 without a cap: %v, want max", got)
	}
	for _, bad := range []Limits{
		{CPUWeight: 0, MemoryBytes: 1 << 30, Pids: 100},
		{CPUWeight: 100, MemoryBytes: 1 << 20, Pids: 100},
		{CPUWeight: 100, MemoryBytes: 1 << 30, Pids: 1},
		{CPUWeight: 100, CPUMaxMilli: 99, MemoryBytes: 1 << 30, Pids: 100},
		{CPUWeight: 100, CPUMaxMilli: -1000, MemoryBytes: 1 << 30, Pids: 100},
	} {
		if err := bad.Validate(); err == nil {
			t.Errorf("%+v: no error", bad)
		}
	}
	if err := DefaultLimits().Validate(); err != nil {
		t.Errorf("the defaults: %v", err)
	}
}

func TestDefaultCPUMaxMilli(t *testing.T) {
	for cpus, want := range map[int]int{1: 1000, 2: 2000, 3: 3000, 8: 8000, 64: 64000} {
		if got := DefaultCPUMaxMilli(cpus); got != want {
			t.Errorf("%d cores: %d, want %d", cpus, got, want)
		}
	}
}

func TestDefaultSettledCPUMaxMilli(t *testing.T) {
	for cpus, want := range map[int]int{1: 500, 2: 1000, 3: 1500, 8: 4000} {
		if got := DefaultSettledCPUMaxMilli(cpus); got != want {
			t.Errorf("%d cores: %d, want %d", cpus, got, want)
		}
		if err := (Limits{CPUWeight: 100, CPUMaxMilli: DefaultSettledCPUMaxMilli(cpus), MemoryBytes: 1 << 30, Pids: 100}).Validate(); err != nil {
			t.Errorf("%d cores: %v", cpus, err)
		}
	}
}

// TestAncestorsCPUMaxMilli reads v1 caps above a group: the tightest wins,
// and the walk stops where the hierarchy's files end.
func TestAncestorsCPUMaxMilli(t *testing.T) {
	root := t.TempDir()
	write := func(dir string, quota, period int) {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		for f, v := range map[string]int{"cpu.cfs_quota_us": quota, "cpu.cfs_period_us": period} {
			if err := os.WriteFile(filepath.Join(dir, f), []byte(fmt.Sprintf("%d\n", v)), 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	mount := filepath.Join(root, "cpu")
	write(mount, -1, 100000)
	write(filepath.Join(mount, "a"), 150000, 100000)  // 1.5 cores
	write(filepath.Join(mount, "a", "b"), -1, 100000) // none of its own
	if got := ancestorsCPUMaxMilli(filepath.Join(mount, "a", "b")); got != 1500 {
		t.Errorf("under a 1.5-core parent: %d, want 1500", got)
	}
	if got := ancestorsCPUMaxMilli(mount); got != 0 {
		t.Errorf("at an uncapped root: %d, want 0", got)
	}
	for _, tc := range [][3]int{{0, 0, 0}, {0, 700, 700}, {900, 0, 900}, {900, 700, 700}} {
		if got := capBelow(tc[0], tc[1]); got != tc[2] {
			t.Errorf("capBelow(%d, %d) = %d, want %d", tc[0], tc[1], got, tc[2])
		}
	}
}

// TestEnsureOnThisMachine makes a real group, reads the kernel's view of its
// limits back and removes it.
func TestEnsureOnThisMachine(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("cgroups need root")
	}
	m, err := Detect()
	if err != nil {
		t.Skipf("no cgroups here: %v", err)
	}
	parent := m.Group(fmt.Sprintf("cellplane-cgroup-test-%d", os.Getpid()))
	g := m.Group(fmt.Sprintf("cellplane-cgroup-test-%d/one", os.Getpid()))
	t.Cleanup(func() { _ = g.Remove(); _ = parent.Remove() })
	// Capped, then uncapped, then capped lower: each pass of a cluster
	// writes what the operator set last.
	for _, l := range []Limits{
		{CPUWeight: 100, CPUMaxMilli: 1500, MemoryBytes: 512 << 20, Pids: 300},
		{CPUWeight: 100, MemoryBytes: 512 << 20, Pids: 300},
		{CPUWeight: 200, CPUMaxMilli: 200, MemoryBytes: 512 << 20, Pids: 300},
	} {
		if err := g.Ensure(l); err != nil {
			t.Fatal(err)
		}
		if err := g.Ensure(l); err != nil {
			t.Fatalf("second Ensure: %v", err)
		}
		for _, f := range g.limitFiles(l) {
			b, err := os.ReadFile(f.path)
			if err != nil || strings.TrimSpace(string(b)) != f.value {
				t.Errorf("%+v: %s = %q, %v; want %s", l, f.path, b, err, f.value)
			}
		}
	}
	if err := g.Remove(); err != nil {
		t.Fatal(err)
	}
	for _, d := range g.Dirs() {
		if _, err := os.Stat(d); !os.IsNotExist(err) {
			t.Errorf("%s still there: %v", d, err)
		}
	}
	if err := g.Remove(); err != nil {
		t.Errorf("removing a removed group: %v", err)
	}
	if !slices.ContainsFunc(g.Dirs(), func(d string) bool { return strings.HasPrefix(d, filepath.Dir(parent.Dirs()[0])) }) {
		t.Errorf("group %v not under its parent %v", g.Dirs(), parent.Dirs())
	}
}

// TestRemovePrefix removes a cell's groups, nested ones included, and no other.
func TestRemovePrefix(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("cgroups need root")
	}
	m, err := Detect()
	if err != nil {
		t.Skipf("no cgroups here: %v", err)
	}
	prefix := fmt.Sprintf("cellplane-cgroup-test-%d.", os.Getpid())
	mine := []*Group{m.Group(prefix + "a"), m.Group(prefix + "b/nested")}
	other := m.Group(fmt.Sprintf("cellplane-cgroup-test-%d-other", os.Getpid()))
	t.Cleanup(func() { _ = m.RemovePrefix(prefix); _ = other.Remove() })
	for _, g := range append(mine, other) {
		if err := g.Ensure(DefaultLimits()); err != nil {
			t.Fatal(err)
		}
	}
	if err := m.RemovePrefix(prefix); err != nil {
		t.Fatal(err)
	}
	for _, g := range mine {
		for _, d := range g.Dirs() {
			if _, err := os.Stat(filepath.Dir(d)); !os.IsNotExist(err) && strings.Contains(filepath.Base(filepath.Dir(d)), "cgroup-test") {
				t.Errorf("%s left: %v", filepath.Dir(d), err)
			}
			if _, err := os.Stat(d); !os.IsNotExist(err) {
				t.Errorf("%s left: %v", d, err)
			}
		}
	}
	for _, d := range other.Dirs() {
		if _, err := os.Stat(d); err != nil {
			t.Errorf("a group without the prefix went too: %v", err)
		}
	}
}
