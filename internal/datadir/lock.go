package datadir

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// ErrAlreadyRunning is returned when another cellplane serves the data directory.
var ErrAlreadyRunning = errors.New("cellplane is already running on this data directory")

// Lock takes dir (a data directory, or a cell's) for this process; closing
// the file lets it go. The kernel drops the lock
// when the process dies however it dies, so a killed cellplane never leaves a stale
// lock behind.
func Lock(dir string) (*os.File, error) {
	path := LockFile(dir)
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, fmt.Errorf("opening %s: %w", path, err)
	}
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil {
		pid, _ := os.ReadFile(path)
		_ = f.Close() // not ours: the lock's error is the one to report
		if errors.Is(err, unix.EWOULDBLOCK) {
			return nil, fmt.Errorf("%w (%s, pid %s)", ErrAlreadyRunning, dir, strings.TrimSpace(string(pid)))
		}
		return nil, fmt.Errorf("locking %s: %w", path, err)
	}
	if err := f.Truncate(0); err == nil {
		_, _ = f.WriteAt([]byte(strconv.Itoa(os.Getpid())+"\n"), 0)
	}
	return f, nil
}

// LockFile is the lock of a data directory or cell directory; it holds the
// owner's PID.
func LockFile(dir string) string { return filepath.Join(dir, "cellplane.lock") }
