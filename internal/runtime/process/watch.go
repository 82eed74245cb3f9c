package process

import (
	"context"
	"errors"
	"fmt"
	"os"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// waitExit blocks until inst has exited (true) or ctx ends (false).
func (r *Runtime) waitExit(ctx context.Context, inst *instance) bool {
	if !inst.adopted {
		select {
		case <-inst.done:
			return true
		case <-ctx.Done():
			return false
		}
	}
	// An adopted process is not our child, so wait(2) cannot see it exit.
	exited, err := waitPidfd(ctx, inst.pid, inst.startTime, r.opts.PollInterval)
	if err == nil {
		return exited
	}
	r.log.Debug("pidfd watch unavailable, polling /proc", "pid", inst.pid, "err", err)
	return pollExit(ctx, inst.pid, inst.startTime, r.opts.PollInterval)
}

// waitPidfd watches a pidfd through Go's netpoller, so an adopted process's
// exit is noticed at once without parking an OS thread per process. It also
// rechecks /proc every interval in case the kernel's pidfd polling
// misbehaves. Any error means the caller should fall back to polling.
func waitPidfd(ctx context.Context, pid int, startTime uint64, every time.Duration) (bool, error) {
	fd, err := unix.PidfdOpen(pid, unix.PIDFD_NONBLOCK)
	if err != nil {
		return false, fmt.Errorf("opening pidfd: %w", err)
	}
	f := os.NewFile(uintptr(fd), "pidfd")
	defer func() { _ = f.Close() }() // a pidfd: closing only stops the watch
	// The PID could have been recycled just before the open; the pidfd pins
	// whoever holds it now, so make sure that is still our process.
	if !Alive(pid, startTime) {
		return true, nil
	}
	rc, err := f.SyscallConn()
	if err != nil {
		return false, fmt.Errorf("watching pidfd: %w", err)
	}
	stop := context.AfterFunc(ctx, func() { _ = f.SetReadDeadline(time.Now()) })
	defer stop()
	return readPidfd(ctx, f, rc, pid, startTime, every)
}

// readPidfd waits in rounds of one interval. If ctx ends just as a round's
// deadline is being reset, the cancellation is noticed one round later.
func readPidfd(ctx context.Context, f *os.File, rc syscall.RawConn, pid int, startTime uint64, every time.Duration) (bool, error) {
	for ctx.Err() == nil {
		if err := f.SetReadDeadline(time.Now().Add(every)); err != nil {
			return false, fmt.Errorf("watching pidfd: %w", err) // not pollable
		}
		err := rc.Read(pidfdReadable)
		if err == nil {
			return true, nil
		}
		if !errors.Is(err, os.ErrDeadlineExceeded) {
			return false, fmt.Errorf("watching pidfd: %w", err)
		}
		if !Alive(pid, startTime) {
			return true, nil
		}
	}
	return false, nil
}

// pidfdReadable reports whether the pidfd signals exit; returning false makes
// the netpoller wait for the next readiness event.
func pidfdReadable(fd uintptr) bool {
	fds := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}} //nolint:gosec // G115: fd came from PidfdOpen as a C int
	for {
		n, err := unix.Poll(fds, 0)
		if errors.Is(err, unix.EINTR) {
			continue
		}
		return err == nil && n > 0 && fds[0].Revents&unix.POLLIN != 0
	}
}

// pollExit checks /proc every interval until the process is gone (true) or
// ctx ends (false).
func pollExit(ctx context.Context, pid int, startTime uint64, every time.Duration) bool {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		if !Alive(pid, startTime) {
			return true
		}
		select {
		case <-ctx.Done():
			return false
		case <-t.C:
		}
	}
}
