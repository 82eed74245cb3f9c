package cgroup

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"syscall"

	"golang.org/x/sys/unix"
)

// PrepareStart makes the next child forked by the calling thread, locked to
// its goroutine, start in the group; restore puts the thread back where it
// was (the manager's parents) and must run after the fork, also on error.
//
// On v1 the thread itself joins the group, in every hierarchy: v1 groups
// hold threads, and a child starts in its forking thread's groups. On v2 a
// process's threads share one group, so the child is cloned into the group
// instead (clone3 with CLONE_INTO_CGROUP, Linux 5.7), through attr.
func (g *Group) PrepareStart(attr *syscall.SysProcAttr) (restore func() error, err error) {
	if g.version == V1 {
		tid := strconv.Itoa(unix.Gettid())
		restore = func() error { return moveThread(g.home, tid) }
		if err := moveThread(g.dirs, tid); err != nil {
			return restore, fmt.Errorf("moving the forking thread into its cgroup: %w", err)
		}
		return restore, nil
	}
	f, err := os.Open(g.dirs[0])
	if err != nil {
		return nil, fmt.Errorf("opening cgroup: %w", err)
	}
	attr.UseCgroupFD, attr.CgroupFD = true, int(f.Fd())
	return f.Close, nil
}

func moveThread(dirs []string, tid string) error {
	var errs []error
	for _, d := range dirs {
		errs = append(errs, writeFile(filepath.Join(d, "tasks"), tid))
	}
	return errors.Join(errs...)
}
