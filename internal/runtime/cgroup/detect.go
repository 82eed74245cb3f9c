package cgroup

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// Detect finds the hierarchy to use from this process's mounts and groups:
// v2 when its controllers include cpu, memory and pids (a pure v2 machine),
// else v1 when those three are mounted (v1 alone, or the hybrid layout where
// v2 sits at /sys/fs/cgroup/unified with no controllers of its own). Groups
// are made under the group this process runs in.
func Detect() (*Manager, error) {
	mi, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		return nil, fmt.Errorf("%w: reading mounts: %w", ErrUnavailable, err)
	}
	own, err := os.ReadFile("/proc/self/cgroup")
	if err != nil {
		return nil, fmt.Errorf("%w: reading own cgroup: %w", ErrUnavailable, err)
	}
	m, err := detect(parseMountinfo(mi), parseOwn(own), readControllers)
	if err != nil {
		return nil, err
	}
	if err := m.probe(); err != nil {
		return nil, err
	}
	return m, nil
}

// mount is one cgroup file system mount.
type mount struct {
	point       string   // where it is mounted
	root        string   // the hierarchy path mounted there ("/" unless namespaced)
	v2          bool     // cgroup2
	controllers []string // v1 only: the mount's controllers
}

func readControllers(dir string) ([]string, error) {
	b, err := os.ReadFile(filepath.Join(dir, "cgroup.controllers")) //nolint:gosec // G304: a cgroupfs file under a mount point
	if err != nil {
		return nil, err
	}
	return strings.Fields(string(b)), nil
}

// detect decides from parsed mounts and own groups; readCtl reads a v2
// group's available controllers (a seam for tests).
func detect(mounts []mount, own map[string]string, readCtl func(string) ([]string, error)) (*Manager, error) {
	for _, mt := range mounts {
		if !mt.v2 {
			continue
		}
		dir, ok := within(mt, own[""])
		if !ok {
			continue
		}
		ctl, err := readCtl(dir)
		if err == nil && hasAll(ctl, controllersV1) {
			return &Manager{version: V2, parents: map[string]string{"": dir}}, nil
		}
	}
	parents := map[string]string{}
	for _, c := range controllersV1 {
		for _, mt := range mounts {
			if mt.v2 || !slices.Contains(mt.controllers, c) {
				continue
			}
			if dir, ok := within(mt, own[c]); ok {
				parents[c] = dir
				break
			}
		}
		if parents[c] == "" {
			return nil, fmt.Errorf("%w: no cgroup v2 with cpu, memory and pids, and no cgroup v1 %s hierarchy", ErrUnavailable, c)
		}
	}
	return &Manager{version: V1, parents: parents}, nil
}

// within maps a group path of the hierarchy to its directory under mt.
func within(mt mount, path string) (string, bool) {
	if path == "" {
		return "", false
	}
	rel, err := filepath.Rel(mt.root, path)
	if err != nil || strings.HasPrefix(rel, "..") {
		return "", false
	}
	return filepath.Join(mt.point, rel), true
}

func hasAll(have, want []string) bool {
	for _, w := range want {
		if !slices.Contains(have, w) {
			return false
		}
	}
	return true
}

// parseMountinfo keeps the cgroup mounts of /proc/self/mountinfo: fields are
// "id parent major:minor root point options ... - fstype source superoptions".
func parseMountinfo(b []byte) []mount {
	var out []mount
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		pre, post, ok := strings.Cut(sc.Text(), " - ")
		f, g := strings.Fields(pre), strings.Fields(post)
		if !ok || len(f) < 5 || len(g) < 3 {
			continue
		}
		switch g[0] {
		case "cgroup2":
			out = append(out, mount{point: f[4], root: f[3], v2: true})
		case "cgroup":
			out = append(out, mount{point: f[4], root: f[3], controllers: strings.Split(g[2], ",")})
		}
	}
	return out
}

// ProcessGroups maps each controller of process pid to its group, as
// /proc/<pid>/cgroup lists them; v2's unified hierarchy is "".
func ProcessGroups(pid int) (map[string]string, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/cgroup", pid))
	if err != nil {
		return nil, fmt.Errorf("reading process %d's cgroups: %w", pid, err)
	}
	return parseOwn(b), nil
}

// parseOwn maps each controller of /proc/self/cgroup ("4:memory:/a/b",
// "1:cpu,cpuacct:/", "0::/x" for v2) to this process's group; v2 is "".
func parseOwn(b []byte) map[string]string {
	out := map[string]string{}
	for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		parts := strings.SplitN(line, ":", 3)
		if len(parts) != 3 {
			continue
		}
		if parts[1] == "" {
			out[""] = parts[2]
			continue
		}
		for _, c := range strings.Split(parts[1], ",") {
			out[c] = parts[2]
		}
	}
	return out
}

// probe makes and removes a group, so a machine where groups cannot be made
// (no root, a read-only cgroupfs) is found at start rather than at the first
// cluster.
func (m *Manager) probe() error {
	g := m.Group(fmt.Sprintf("cellplane-probe-%d", os.Getpid()))
	for _, d := range g.dirs {
		if err := os.Mkdir(d, groupDirMode); err != nil && !os.IsExist(err) {
			_ = g.Remove() // best effort: the probe's failure is the news
			return fmt.Errorf("%w: %w", ErrUnavailable, err)
		}
	}
	if err := g.Remove(); err != nil {
		return fmt.Errorf("%w: %w", ErrUnavailable, err)
	}
	return nil
}
