package datadir

import (
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

func TestLock(t *testing.T) {
	dir := t.TempDir()
	first, err := Lock(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer first.Close()
	pid, err := os.ReadFile(filepath.Join(dir, "cellplane.lock"))
	if err != nil || strings.TrimSpace(string(pid)) != strconv.Itoa(os.Getpid()) {
		t.Fatalf("lock file holds %q (%v), want our pid", pid, err)
	}

	second, err := Lock(dir)
	if err == nil {
		second.Close()
		t.Fatal("a second lock on the same data directory succeeded")
	}
	if !errors.Is(err, ErrAlreadyRunning) {
		t.Fatalf("second lock = %v, want ErrAlreadyRunning", err)
	}
	if !strings.Contains(err.Error(), "pid "+strconv.Itoa(os.Getpid())) || !strings.Contains(err.Error(), dir) {
		t.Errorf("error %q does not name the holder's pid and the directory", err)
	}

	// The kernel drops the lock with its file, however the holder ends.
	if err := first.Close(); err != nil {
		t.Fatal(err)
	}
	third, err := Lock(dir)
	if err != nil {
		t.Fatalf("lock after the holder closed it: %v", err)
	}
	third.Close()
}

func TestLockMissingDir(t *testing.T) {
	_, err := Lock(filepath.Join(t.TempDir(), "missing"))
	if err == nil || errors.Is(err, ErrAlreadyRunning) {
		t.Fatalf("lock in a missing directory = %v, want an error other than ErrAlreadyRunning", err)
	}
}
