package down

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"github.com/cellplane/cellplane/internal/datadir"
	"github.com/cellplane/cellplane/internal/runtime/process"
)

// Up is a running `cellplane up`.
type Up struct {
	PID       int
	startTime uint64
}

// findUp returns the `cellplane up` running on dataDir, or nil. Its PID is in the
// lock file and in endpoint.json; both outlive a killed up, so a PID from them is
// trusted only while that process holds the lock file open, which a stranger that
// inherited the PID does not.
func findUp(dataDir string) *Up {
	lock := datadir.LockFile(dataDir) // `up` holds it locked while it runs, with its PID inside
	fi, err := os.Stat(lock)
	if err != nil {
		return nil // never started here
	}
	for _, pid := range upCandidates(dataDir, lock) {
		start, err := process.StartTime(pid)
		if err != nil || !holdsFile(pid, fi) {
			continue
		}
		// The start time read before the check pins the process that passed it.
		if process.Alive(pid, start) {
			return &Up{PID: pid, startTime: start}
		}
	}
	return nil
}

// upCandidates are the PIDs the lock file and endpoint.json name.
func upCandidates(dataDir, lock string) []int {
	var pids []int
	if b, err := os.ReadFile(lock); err == nil {
		if pid, err := strconv.Atoi(strings.TrimSpace(string(b))); err == nil && pid > 0 {
			pids = append(pids, pid)
		}
	}
	if e, err := datadir.ReadEndpoint(dataDir); err == nil && e.PID > 0 && (len(pids) == 0 || pids[0] != e.PID) {
		pids = append(pids, e.PID)
	}
	return pids
}

// holdsFile reports whether pid has the file fi open. A process we may not
// inspect belongs to another user, so it is not the up of our data directory.
func holdsFile(pid int, fi os.FileInfo) bool {
	dir := "/proc/" + strconv.Itoa(pid) + "/fd"
	fds, err := os.ReadDir(dir)
	if err != nil {
		return false
	}
	for _, fd := range fds {
		// Stat follows the fd's link to the open file itself.
		if o, err := os.Stat(filepath.Join(dir, fd.Name())); err == nil && os.SameFile(o, fi) {
			return true
		}
	}
	return false
}

// stop asks up to stop as Ctrl-C does, and kills it if it has not stopped within
// grace. Only its PID is signalled, not its process group: that is the terminal's
// job control group, and holds the user's shell pipeline.
func (u *Up) stop(ctx context.Context, grace time.Duration) error {
	if err := u.signal(unix.SIGTERM); err != nil {
		return err
	}
	if u.wait(ctx, grace) {
		return nil
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("waiting for cellplane up (pid %d) to stop: %w", u.PID, err)
	}
	if err := u.signal(unix.SIGKILL); err != nil {
		return err
	}
	if !u.wait(ctx, grace) {
		return fmt.Errorf("cellplane up (pid %d) survived SIGKILL for %s", u.PID, grace)
	}
	return nil
}

// signal sends sig unless up is gone; the start time is checked right before,
// so a PID recycled meanwhile is left alone.
func (u *Up) signal(sig unix.Signal) error {
	if !process.Alive(u.PID, u.startTime) {
		return nil
	}
	if err := unix.Kill(u.PID, sig); err != nil && !errors.Is(err, unix.ESRCH) {
		return fmt.Errorf("sending %v to cellplane up (pid %d): %w", sig, u.PID, err)
	}
	return nil
}

// wait polls until up is gone (true), d passes or ctx ends (false). up is not our
// child, so there is nothing to wait(2) for.
func (u *Up) wait(ctx context.Context, d time.Duration) bool {
	ctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	t := time.NewTicker(50 * time.Millisecond)
	defer t.Stop()
	for process.Alive(u.PID, u.startTime) {
		select {
		case <-ctx.Done():
			return false
		case <-t.C:
		}
	}
	return true
}
