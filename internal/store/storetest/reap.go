package storetest

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"

	"github.com/cellplane/cellplane/internal/runtime/process"
)

// ownerFile, in a store directory, is locked by the directory's owner for its
// whole life. The kernel drops the lock when the owner dies, however it dies.
const ownerFile = "owner.lock"

// lockNew creates path locked. It locks the file under a temporary name and
// renames it into place, so nobody ever finds path unlocked while we live.
func lockNew(path string) (*os.File, error) {
	tmp := path + ".new"
	f, err := os.OpenFile(tmp, os.O_CREATE|os.O_EXCL|os.O_RDWR, 0o600)
	if err != nil {
		return nil, fmt.Errorf("creating the owner lock: %w", err)
	}
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil {
		_ = f.Close() // ours, never used; the error above is the one to report
		return nil, fmt.Errorf("taking the owner lock: %w", err)
	}
	if err := os.Rename(tmp, path); err != nil {
		_ = f.Close() // ours, never used; the error above is the one to report
		return nil, fmt.Errorf("placing the owner lock: %w", err)
	}
	return f, nil
}

// reapStale stops the processes and removes the directories of stores whose
// test binary died before its teardown: the panic of a test timeout skips
// every deferred call, and the store's processes, in sessions of their own,
// outlive the binary. Best effort: a store it cannot reap costs one address.
func reapStale(ctx context.Context) {
	dirs, _ := filepath.Glob(filepath.Join(os.TempDir(), dirPrefix+"*"))
	for _, dir := range dirs {
		_ = reap(ctx, dir)
	}
}

// reap takes down the store in dir if its owner is gone: only then can we take
// the owner lock. A directory without the lock file is skipped; it belongs to
// a binary that is creating it right now.
func reap(ctx context.Context, dir string) error {
	f, err := os.OpenFile(filepath.Join(dir, ownerFile), os.O_RDWR, 0)
	if err != nil {
		return err
	}
	defer f.Close() //nolint:errcheck // closing drops the lock we took; nothing was written
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil {
		return err // its owner still runs
	}
	specs, err := readSpecs(filepath.Join(dir, specsName))
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	rt := process.New(process.Options{})
	defer rt.Close()
	if err := stopSpecs(ctx, rt, specs); err != nil {
		return err
	}
	return os.RemoveAll(dir)
}
