package machine

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/cellplane/cellplane/internal/poll"
)

// ErrNoCgroupV1 is returned on a host without cgroup v1 hierarchies: a
// machine's kubelet runs with the cgroupfs driver on v1 (see kubeletConfig).
var ErrNoCgroupV1 = errors.New("machines need cgroup v1 hierarchies")

// hierarchies are the mount points of the host's cgroup v1 hierarchies,
// one per controller set (cpu, memory, ..., name=systemd).
func hierarchies() ([]string, error) {
	data, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		return nil, fmt.Errorf("reading mountinfo: %w", err)
	}
	var out []string
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		pre, post, ok := strings.Cut(sc.Text(), " - ")
		f, g := strings.Fields(pre), strings.Fields(post)
		if ok && len(f) >= 5 && len(g) >= 1 && g[0] == "cgroup" {
			out = append(out, f[4])
		}
	}
	if len(out) == 0 {
		return nil, ErrNoCgroupV1
	}
	return out, nil
}

// cgroups is one machine's cgroup tree in every hierarchy. The machine's
// own processes (containerd, the kubelet, the shims they fork) run in
// "system"; the kubelet puts pods under the tree's root (its cgroupRoot).
type cgroups struct {
	roots []string // the machine's directory in each hierarchy
}

func newCgroups(name string) (*cgroups, error) {
	hs, err := hierarchies()
	if err != nil {
		return nil, err
	}
	g := &cgroups{}
	for _, h := range hs {
		g.roots = append(g.roots, filepath.Join(h, name))
	}
	return g, nil
}

func (g *cgroups) system() []string {
	out := make([]string, len(g.roots))
	for i, r := range g.roots {
		out[i] = filepath.Join(r, "system")
	}
	return out
}

// create makes the tree. A new cpuset group has no CPUs or memory nodes
// (cgroup.clone_children is off), and no task can join it then, so each
// level copies its parent's.
func (g *cgroups) create() error {
	for _, dir := range g.system() {
		if err := os.MkdirAll(dir, 0o755); err != nil { //nolint:gosec // G301: cgroupfs directories; nothing secret
			return fmt.Errorf("creating cgroup %s: %w", dir, err)
		}
		if _, err := os.Stat(filepath.Join(dir, "cpuset.cpus")); err == nil {
			if err := fillCpuset(dir); err != nil {
				return err
			}
		}
	}
	return nil
}

func fillCpuset(dir string) error {
	var chain []string
	for d := dir; ; d = filepath.Dir(d) {
		if _, err := os.Stat(filepath.Join(d, "cpuset.cpus")); err != nil {
			break
		}
		chain = append(chain, d)
	}
	slices.Reverse(chain) // root first
	for i := 1; i < len(chain); i++ {
		for _, f := range []string{"cpuset.cpus", "cpuset.mems"} {
			cur, err := os.ReadFile(filepath.Join(chain[i], f)) //nolint:gosec // G304: cgroupfs
			if err != nil {
				return fmt.Errorf("reading %s: %w", f, err)
			}
			if strings.TrimSpace(string(cur)) != "" {
				continue
			}
			parent, err := os.ReadFile(filepath.Join(chain[i-1], f)) //nolint:gosec // G304: cgroupfs
			if err != nil {
				return fmt.Errorf("reading %s: %w", f, err)
			}
			if err := os.WriteFile(filepath.Join(chain[i], f), parent, 0o644); err != nil { //nolint:gosec // G306: cgroupfs
				return fmt.Errorf("setting %s of %s: %w", f, chain[i], err)
			}
		}
	}
	return nil
}

// start starts cmd inside the machine's system group. On v1 a child starts
// in its forking thread's groups, so the thread, locked, joins them for the
// fork and goes home after: the process never runs a single instruction
// outside the machine.
func (g *cgroups) start(cmd *exec.Cmd) error {
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		tid := strconv.Itoa(unix.Gettid())
		home, err := threadGroups(tid, g.roots)
		if err != nil {
			runtime.UnlockOSThread()
			errc <- err
			return
		}
		err = moveThread(g.system(), tid)
		if err == nil {
			err = cmd.Start()
		}
		if rerr := moveThread(home, tid); rerr != nil {
			// Leave the thread locked: the runtime ends it with this
			// goroutine rather than run other code in the machine's groups.
			errc <- errors.Join(err, rerr)
			return
		}
		runtime.UnlockOSThread()
		errc <- err
	}()
	return <-errc
}

// threadGroups returns the directories of the thread's own groups in the
// hierarchies the machine's roots are in.
func threadGroups(tid string, roots []string) ([]string, error) {
	data, err := os.ReadFile("/proc/self/task/" + tid + "/cgroup") //nolint:gosec // G304: this thread's own cgroup file
	if err != nil {
		return nil, fmt.Errorf("reading the thread's cgroups: %w", err)
	}
	byCtl := map[string]string{}
	for _, line := range strings.Split(strings.TrimSpace(string(data)), "\n") {
		parts := strings.SplitN(line, ":", 3)
		if len(parts) == 3 && parts[1] != "" {
			byCtl[parts[1]] = parts[2]
		}
	}
	var out []string
	for _, r := range roots {
		mnt := filepath.Dir(filepath.Dir(r)) // roots are <mount>/cellplane-nodes/<name>
		p, ok := byCtl[hierarchyKey(mnt)]
		if !ok {
			return nil, fmt.Errorf("the thread is in no group of %s", mnt)
		}
		out = append(out, filepath.Join(mnt, p))
	}
	return out, nil
}

// hierarchyKey is how /proc/<pid>/cgroup names the hierarchy mounted at
// mnt: its controllers, comma-separated, or name=<name>. Read from the mount
// options, so a mount point named unlike its controllers still matches.
func hierarchyKey(mnt string) string {
	data, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		return ""
	}
	for _, line := range strings.Split(string(data), "\n") {
		pre, post, ok := strings.Cut(line, " - ")
		f, g := strings.Fields(pre), strings.Fields(post)
		if !ok || len(f) < 5 || len(g) < 3 || g[0] != "cgroup" || f[4] != mnt {
			continue
		}
		var keys []string
		for _, o := range strings.Split(g[2], ",") {
			if o != "rw" && o != "ro" && !strings.HasPrefix(o, "release_agent") && o != "noprefix" && o != "clone_children" && o != "xattr" && o != "cpuset_v2_mode" {
				keys = append(keys, o)
			}
		}
		return strings.Join(keys, ",")
	}
	return ""
}

func moveThread(dirs []string, tid string) error {
	var errs []error
	for _, d := range dirs {
		if err := os.WriteFile(filepath.Join(d, "tasks"), []byte(tid), 0o644); err != nil { //nolint:gosec // G306: cgroupfs
			errs = append(errs, fmt.Errorf("moving thread into %s: %w", d, err))
		}
	}
	return errors.Join(errs...)
}

// pids lists every process in the machine's tree, in any hierarchy.
func (g *cgroups) pids() []int {
	seen := map[int]bool{}
	for _, r := range g.roots {
		_ = filepath.WalkDir(r, func(p string, d fs.DirEntry, err error) error {
			if err != nil || !d.IsDir() {
				return nil //nolint:nilerr // a group that vanished while walking holds no one
			}
			data, err := os.ReadFile(filepath.Join(p, "cgroup.procs")) //nolint:gosec // G304: cgroupfs
			if err != nil {
				return nil //nolint:nilerr // as above
			}
			for _, f := range strings.Fields(string(data)) {
				if pid, err := strconv.Atoi(f); err == nil {
					seen[pid] = true
				}
			}
			return nil
		})
	}
	out := make([]int, 0, len(seen))
	for pid := range seen {
		out = append(out, pid)
	}
	slices.Sort(out)
	return out
}

// killAll ends every process in the tree with SIGKILL, by PID, until none
// is left. The freezer, where there is one, holds them still meanwhile, so
// none forks a child between the listing and the kill.
func (g *cgroups) killAll(timeout time.Duration) error {
	freezer := ""
	for _, r := range g.roots {
		if _, err := os.Stat(filepath.Join(r, "freezer.state")); err == nil {
			freezer = filepath.Join(r, "freezer.state")
		}
	}
	err := poll.Until(context.Background(), timeout, 50*time.Millisecond, func() error {
		pids := g.pids()
		if len(pids) == 0 {
			return nil
		}
		if freezer != "" {
			_ = os.WriteFile(freezer, []byte("FROZEN"), 0o644) //nolint:gosec // G306: cgroupfs; without it the loop still converges
		}
		for _, pid := range g.pids() {
			_ = syscall.Kill(pid, syscall.SIGKILL) // ESRCH: it ended on its own
		}
		if freezer != "" {
			_ = os.WriteFile(freezer, []byte("THAWED"), 0o644) //nolint:gosec // G306: as above
		}
		return fmt.Errorf("processes %v are still there", pids)
	})
	if err != nil {
		return fmt.Errorf("ending the machine's processes: %w", err)
	}
	return nil
}

// remove deletes the tree, deepest groups first, once it is empty; a
// missing tree is fine. The shared parent goes too when no machine is left.
func (g *cgroups) remove() error {
	var errs []error
	for _, r := range g.roots {
		var dirs []string
		_ = filepath.WalkDir(r, func(p string, d fs.DirEntry, err error) error {
			if err == nil && d.IsDir() {
				dirs = append(dirs, p)
			}
			return nil
		})
		slices.Reverse(dirs)
		for _, d := range dirs {
			if err := unix.Rmdir(d); err != nil && !errors.Is(err, unix.ENOENT) {
				errs = append(errs, fmt.Errorf("removing cgroup %s: %w", d, err))
			}
		}
		_ = unix.Rmdir(filepath.Dir(r)) // the parent stays while other machines use it (EBUSY, ENOTEMPTY)
	}
	return errors.Join(errs...)
}
