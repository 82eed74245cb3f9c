package process

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// startSleep runs a plain child and returns its identity; cleanup kills it.
func startSleep(t *testing.T) pidFile {
	t.Helper()
	cmd := exec.Command("/bin/sleep", "1000")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	return pidFile{PID: cmd.Process.Pid, StartTime: statOf(t, cmd.Process.Pid).startTime}
}

// TestWatchers covers both ways of watching a process we did not start:
// the pidfd watch and the /proc polling it falls back to.
func TestWatchers(t *testing.T) {
	for _, tc := range []struct {
		name  string
		watch func(ctx context.Context, p pidFile) bool
	}{
		{"pidfd", func(ctx context.Context, p pidFile) bool {
			exited, err := waitPidfd(ctx, p.PID, p.StartTime, time.Hour)
			if err != nil {
				t.Errorf("waitPidfd: %v", err)
			}
			return exited
		}},
		{"poll", func(ctx context.Context, p pidFile) bool {
			return pollExit(ctx, p.PID, p.StartTime, 10*time.Millisecond)
		}},
	} {
		t.Run(tc.name+"/exit", func(t *testing.T) {
			p := startSleep(t)
			got := make(chan bool, 1)
			go func() { got <- tc.watch(context.Background(), p) }()
			if err := unix.Kill(p.PID, unix.SIGKILL); err != nil {
				t.Fatal(err)
			}
			if !waitResult(t, got) {
				t.Error("watch returned false for an exited process")
			}
		})
		t.Run(tc.name+"/cancel", func(t *testing.T) {
			p := startSleep(t)
			ctx, cancel := context.WithCancel(context.Background())
			got := make(chan bool, 1)
			go func() { got <- tc.watch(ctx, p) }()
			cancel()
			if waitResult(t, got) {
				t.Error("watch reported an exit for a live process")
			}
		})
		t.Run(tc.name+"/recycled pid", func(t *testing.T) {
			p := startSleep(t)
			p.StartTime++
			if !waitResult(t, oneShot(func() bool { return tc.watch(context.Background(), p) })) {
				t.Error("a process with another start time was watched as ours")
			}
		})
	}
}

func oneShot(f func() bool) chan bool {
	c := make(chan bool, 1)
	go func() { c <- f() }()
	return c
}

func waitResult(t *testing.T, c chan bool) bool {
	t.Helper()
	select {
	case v := <-c:
		return v
	case <-time.After(10 * time.Second):
		t.Fatal("watch did not return")
		return false
	}
}

func TestLogTail(t *testing.T) {
	path := filepath.Join(t.TempDir(), "x.log")
	if got := logTail(path, 5); got != nil {
		t.Errorf("missing file: %q, want nil", got)
	}
	big := make([]byte, 0, 20<<10)
	for len(big) < 16<<10 {
		big = append(big, "filler line\n"...)
	}
	big = append(big, "one\ntwo\n"...)
	if err := os.WriteFile(path, big, 0o600); err != nil {
		t.Fatal(err)
	}
	if got, want := logTail(path, 2), []string{"one", "two"}; !slices.Equal(got, want) {
		t.Errorf("logTail = %q, want %q", got, want)
	}
}
