package process

import (
	"errors"
	"fmt"
	"os/exec"
	"runtime"

	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

// startIn starts cmd with the isolation s asks for. A child inherits the
// namespaces and (on cgroup v1) the groups of the thread that forks it, so
// an isolated start moves a thread of its own there, forks from it and moves
// it back. Only a thread back where it was is handed back to the Go runtime;
// otherwise it stays locked and the runtime ends it (or, for the main thread,
// parks it) rather than run other code in a tenant's namespace or group.
func startIn(s Spec, cmd *exec.Cmd) error {
	if !s.isolated() {
		return cmd.Start()
	}
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		var back restores
		err := startOnThread(s, cmd, &back)
		if back.undo() == nil {
			runtime.UnlockOSThread()
		}
		errc <- err
	}()
	return <-errc
}

// restores undo what a start did to its thread, last first.
type restores []func() error

func (r *restores) add(f func() error) { *r = append(*r, f) }

func (r restores) undo() error {
	var errs []error
	for i := len(r) - 1; i >= 0; i-- {
		errs = append(errs, r[i]())
	}
	return errors.Join(errs...)
}

func startOnThread(s Spec, cmd *exec.Cmd, back *restores) error {
	if s.NetNS != "" {
		if err := enterNetNS(s.NetNS, back); err != nil {
			return err
		}
	}
	if s.Hostname != "" {
		if err := enterUTS(s.Hostname, back); err != nil {
			return err
		}
	}
	if s.Cgroup != nil {
		restore, err := s.Cgroup.PrepareStart(cmd.SysProcAttr)
		if restore != nil {
			back.add(restore)
		}
		if err != nil {
			return err
		}
	}
	return cmd.Start()
}

func enterNetNS(path string, back *restores) error {
	orig, err := netns.Get()
	if err != nil {
		return fmt.Errorf("reading the thread's network namespace: %w", err)
	}
	ns, err := netns.GetFromPath(path)
	if err != nil {
		_ = orig.Close() // a namespace handle: closing only drops the reference
		return fmt.Errorf("opening network namespace %s: %w", path, err)
	}
	defer func() { _ = ns.Close() }() // as above
	back.add(func() error {
		defer func() { _ = orig.Close() }() // as above
		return netns.Set(orig)
	})
	if err := netns.Set(ns); err != nil {
		return fmt.Errorf("entering network namespace %s: %w", path, err)
	}
	return nil
}

// enterUTS gives the thread a UTS namespace of its own named host; a child it
// forks has that name before it runs.
func enterUTS(host string, back *restores) error {
	orig, err := unix.Open("/proc/thread-self/ns/uts", unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("reading the thread's UTS namespace: %w", err)
	}
	back.add(func() error {
		defer func() { _ = unix.Close(orig) }() // a namespace handle: closing only drops the reference
		return unix.Setns(orig, unix.CLONE_NEWUTS)
	})
	if err := unix.Unshare(unix.CLONE_NEWUTS); err != nil {
		return fmt.Errorf("creating a UTS namespace: %w", err)
	}
	if err := unix.Sethostname([]byte(host)); err != nil {
		return fmt.Errorf("setting host name %q: %w", host, err)
	}
	return nil
}
