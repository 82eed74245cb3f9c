package process

import (
	"context"
	"errors"
	"log/slog"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

func TestEnsureStartsOnce(t *testing.T) {
	h := newHarness(t)
	r := h.runtime(Options{})
	s := h.sleepSpec("once")

	first := h.ensure(r, s)
	if !first.Running || first.Adopted || first.PID <= 0 {
		t.Fatalf("first Ensure = %+v, want a running, non-adopted process", first)
	}
	if p := h.pidFile(s); !p.alive() || p.PID != first.PID || p.SpecHash != s.hash() {
		t.Fatalf("pid file = %+v, want pid %d alive with the spec hash", p, first.PID)
	}
	second := h.ensure(r, s)
	if second.PID != first.PID || second.Restarts != 0 {
		t.Fatalf("second Ensure = %+v, want the same process as %+v", second, first)
	}
	for _, path := range []string{s.pidPath(), s.logPath()} {
		if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != 0o600 {
			t.Errorf("%s: mode %v, err %v; want 0600", path, fi.Mode().Perm(), err)
		}
	}
}

func TestEnsureConcurrent(t *testing.T) {
	h := newHarness(t)
	r := h.runtime(Options{})
	specs := []Spec{h.sleepSpec("a"), h.sleepSpec("b"), h.sleepSpec("c")}

	var wg sync.WaitGroup
	pids := make([][]int, len(specs))
	for i, s := range specs {
		pids[i] = make([]int, 4)
		for j := range pids[i] {
			wg.Go(func() {
				st, err := r.Ensure(context.Background(), s)
				if err != nil {
					t.Error(err)
				}
				pids[i][j] = st.PID
			})
		}
	}
	wg.Wait()
	for i := range specs {
		h.track(pids[i][0])
		for _, pid := range pids[i] {
			if pid != pids[i][0] {
				t.Errorf("%s: concurrent Ensure gave pids %v, want one process", specs[i].ID, pids[i])
			}
		}
	}
}

func TestAdoptAfterClose(t *testing.T) {
	h := newHarness(t)
	s := h.sleepSpec("adopt")
	old := h.runtime(Options{})
	started := h.ensure(old, s)
	old.Close()
	if !Alive(started.PID, h.pidFile(s).StartTime) {
		t.Fatal("Close killed the process")
	}

	r := h.runtime(Options{})
	adopted := h.ensure(r, s)
	if adopted.PID != started.PID || !adopted.Adopted || !adopted.Running {
		t.Fatalf("Ensure after Close = %+v, want pid %d adopted", adopted, started.PID)
	}

	// The new runtime supervises what it adopted: a crash is restarted.
	if err := unix.Kill(adopted.PID, unix.SIGKILL); err != nil {
		t.Fatal(err)
	}
	var st Status
	eventually(t, 5*time.Second, "restart of the adopted process", func() bool {
		st, _ = r.Status(s.ID)
		return st.Running && st.PID != adopted.PID
	})
	if st.Adopted || st.Restarts != 1 || !strings.Contains(st.LastExit, "adopted") {
		t.Errorf("status after restart = %+v, want 1 restart of a non-adopted process", st)
	}
	if p := h.pidFile(s); p.PID != st.PID || !p.alive() {
		t.Errorf("pid file = %+v, want the restarted pid %d", p, st.PID)
	}
}

func TestCloseLeavesProcessRunningUnsupervised(t *testing.T) {
	h := newHarness(t)
	s := h.sleepSpec("close")
	r := h.runtime(Options{})
	st := h.ensure(r, s)
	p := h.pidFile(s)
	r.Close()

	if _, err := r.Ensure(context.Background(), s); !errors.Is(err, ErrClosed) {
		t.Errorf("Ensure after Close: err = %v, want ErrClosed", err)
	}
	if _, ok := r.Status(s.ID); ok {
		t.Error("Status after Close still reports the process")
	}
	if err := unix.Kill(st.PID, unix.SIGKILL); err != nil {
		t.Fatal(err)
	}
	eventually(t, 5*time.Second, "the process to die", func() bool { return !p.alive() })
	consistently(t, 300*time.Millisecond, "no restart after Close", func() bool {
		return h.pidFile(s).PID == st.PID
	})
}

func TestCrashLoopBacksOff(t *testing.T) {
	type exit struct {
		at  time.Time
		err error
	}
	h := newHarness(t)
	logs := &syncBuffer{}
	exits := make(chan exit, 100)
	r := h.runtime(Options{
		Logger:     slog.New(slog.NewTextHandler(logs, nil)),
		MinBackoff: 40 * time.Millisecond, MaxBackoff: 5 * time.Second,
		OnExit: func(_ string, err error) { exits <- exit{time.Now(), err} },
	})
	s := h.spec("crash", "/bin/sh", "-c", "echo boom-$$; exit 1")
	h.ensure(r, s)

	var times []time.Time
	for len(times) < 5 {
		select {
		case e := <-exits:
			times = append(times, e.at)
			if !errors.Is(e.err, ErrExited) {
				t.Errorf("OnExit err = %v, want ErrExited", e.err)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("only %d exits reported", len(times))
		}
	}
	// Delays are 40, 80, 160, 320ms. A loaded machine can only lengthen a gap,
	// so each gap is checked against its scheduled delay as a lower bound.
	for i := 1; i < len(times); i++ {
		want := 40 * time.Millisecond << (i - 1)
		if gap := times[i].Sub(times[i-1]); gap < want {
			t.Errorf("restart gap %d = %v, want at least the backoff %v", i, gap, want)
		}
	}
	if st, _ := r.Status(s.ID); st.Restarts < 4 || st.LastExit != "exit status 1" {
		t.Errorf("status = %+v, want at least 4 restarts after exit status 1", st)
	}
	if !strings.Contains(logs.String(), "boom-") {
		t.Errorf("exit log lacks the process output:\n%s", logs.String())
	}
}

func TestStopProcessOfPreviousRuntime(t *testing.T) {
	h := newHarness(t)
	s := h.sleepSpec("stop")
	old := h.runtime(Options{})
	h.ensure(old, s)
	p := h.pidFile(s)
	old.Close()

	r := h.runtime(Options{})
	if err := r.Stop(context.Background(), s); err != nil {
		t.Fatal(err)
	}
	if p.alive() {
		t.Error("process still alive after Stop")
	}
	if !pidFileGone(s) {
		t.Error("pid file still present after Stop")
	}
	if _, err := os.Stat(s.logPath()); err != nil {
		t.Errorf("log file removed: %v", err)
	}
	if err := r.Stop(context.Background(), s); err != nil {
		t.Errorf("second Stop: %v", err)
	}
}

func TestStopSupervisedDoesNotRestart(t *testing.T) {
	h := newHarness(t)
	s := h.sleepSpec("stop-supervised")
	r := h.runtime(Options{})
	h.ensure(r, s)
	p := h.pidFile(s)

	if err := r.Stop(context.Background(), s); err != nil {
		t.Fatal(err)
	}
	if p.alive() {
		t.Error("process still alive after Stop")
	}
	if _, ok := r.Status(s.ID); ok {
		t.Error("Status still reports a stopped process")
	}
	consistently(t, 300*time.Millisecond, "no restart after Stop", func() bool { return pidFileGone(s) })
}

func TestStopEscalatesToSIGKILL(t *testing.T) {
	h := newHarness(t)
	const timeout = 300 * time.Millisecond
	r := h.runtime(Options{StopTimeout: timeout})
	s := h.ignoreTermSpec("stubborn")
	h.ensure(r, s)
	p := h.pidFile(s)
	eventually(t, 10*time.Second, "the helper to ignore SIGTERM", func() bool {
		b, _ := os.ReadFile(s.logPath())
		return strings.Contains(string(b), "ready")
	})

	begin := time.Now()
	if err := r.Stop(context.Background(), s); err != nil {
		t.Fatal(err)
	}
	if took := time.Since(begin); took < timeout {
		t.Errorf("Stop took %v, want at least the %v SIGTERM grace", took, timeout)
	}
	if p.alive() || !pidFileGone(s) {
		t.Error("process or pid file survived Stop")
	}
}

func TestStopWithoutPIDFile(t *testing.T) {
	h := newHarness(t)
	r := h.runtime(Options{})
	if err := r.Stop(context.Background(), h.sleepSpec("never-started")); err != nil {
		t.Errorf("Stop of a never-started process: %v", err)
	}
}

func TestChangedSpecRestarts(t *testing.T) {
	for _, tc := range []struct {
		name       string
		newRuntime bool
	}{
		{"same runtime", false},
		{"new runtime after Close", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t)
			r := h.runtime(Options{})
			s := h.sleepSpec("upgrade")
			before := h.ensure(r, s)
			old := h.pidFile(s)
			if tc.newRuntime {
				r.Close()
				r = h.runtime(Options{})
			}
			s.Args = []string{"1001"}
			after := h.ensure(r, s)
			if after.PID == before.PID || after.Adopted {
				t.Fatalf("Ensure with new args = %+v, want a fresh process (old pid %d)", after, before.PID)
			}
			if old.alive() {
				t.Error("old process still alive")
			}
			if p := h.pidFile(s); p.PID != after.PID || p.SpecHash != s.hash() {
				t.Errorf("pid file = %+v, want the new process", p)
			}
		})
	}
}

func TestStalePIDFileNotAdopted(t *testing.T) {
	for _, tc := range []struct {
		name  string
		write func(t *testing.T, h *harness, s Spec) (decoy pidFile)
	}{
		{"pid reused by another process", func(t *testing.T, h *harness, s Spec) pidFile {
			decoy := startDecoy(t, h)
			fake := decoy
			fake.StartTime++ // same PID, different process as far as we know
			fake.SpecHash = s.hash()
			mustWritePIDFile(t, s, fake)
			return decoy
		}},
		{"dead process", func(t *testing.T, h *harness, s Spec) pidFile {
			mustWritePIDFile(t, s, pidFile{PID: deadPID(t), StartTime: 1, SpecHash: s.hash()})
			return pidFile{}
		}},
		{"corrupt file", func(t *testing.T, h *harness, s Spec) pidFile {
			if err := os.WriteFile(s.pidPath(), []byte("{not json"), 0o600); err != nil {
				t.Fatal(err)
			}
			return pidFile{}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t)
			s := h.sleepSpec("stale")
			if err := os.MkdirAll(s.StateDir, 0o700); err != nil {
				t.Fatal(err)
			}
			decoy := tc.write(t, h, s)
			st := h.ensure(h.runtime(Options{}), s)
			if st.Adopted || st.PID == decoy.PID {
				t.Fatalf("Ensure = %+v, want a new process, not pid %d", st, decoy.PID)
			}
			if decoy.PID != 0 && !decoy.alive() {
				t.Error("the unrelated process that reused the PID was killed")
			}
		})
	}
}

// startDecoy runs a process that is not ours to manage.
func startDecoy(t *testing.T, h *harness) pidFile {
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

// deadPID returns the PID of a process that has exited and been reaped.
func deadPID(t *testing.T) int {
	t.Helper()
	cmd := exec.Command("/bin/true")
	if err := cmd.Run(); err != nil {
		t.Fatal(err)
	}
	return cmd.Process.Pid
}

func mustWritePIDFile(t *testing.T, s Spec, p pidFile) {
	t.Helper()
	if err := writePIDFile(s.pidPath(), p); err != nil {
		t.Fatal(err)
	}
}

func TestEnsureMissingBinary(t *testing.T) {
	h := newHarness(t)
	s := h.spec("missing", "/nonexistent/etcd")
	if _, err := h.runtime(Options{}).Ensure(context.Background(), s); err == nil {
		t.Fatal("Ensure of a missing binary succeeded")
	}
	if !pidFileGone(s) {
		t.Error("pid file written for a process that never started")
	}
}

func TestBeforeStartRefusesStartsAndRestarts(t *testing.T) {
	h := newHarness(t)
	errLost := errors.New("data lost")
	var refuse sync.Mutex // held while starts are refused
	var refusing bool
	check := func() error {
		refuse.Lock()
		defer refuse.Unlock()
		if refusing {
			return errLost
		}
		return nil
	}
	setRefusing := func(v bool) {
		refuse.Lock()
		refusing = v
		refuse.Unlock()
	}
	r := h.runtime(Options{MinBackoff: 20 * time.Millisecond, MaxBackoff: 40 * time.Millisecond})
	s := h.sleepSpec("guarded")
	s.BeforeStart = check

	setRefusing(true)
	if _, err := r.Ensure(context.Background(), s); !errors.Is(err, errLost) {
		t.Fatalf("Ensure with the check failing = %v, want %v", err, errLost)
	}
	if _, err := os.Stat(s.pidPath()); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("a refused start left a pid file: %v", err)
	}

	setRefusing(false)
	st := h.ensure(r, s)
	if s.hash() != h.pidFile(s).SpecHash {
		t.Errorf("BeforeStart changed the spec hash")
	}
	// A crash is restarted only once the check passes again.
	setRefusing(true)
	if err := unix.Kill(st.PID, unix.SIGKILL); err != nil {
		t.Fatal(err)
	}
	eventually(t, 5*time.Second, "the process exits", func() bool { s2, _ := r.Status(s.ID); return !s2.Running })
	consistently(t, 300*time.Millisecond, "no restart while refused", func() bool { s2, _ := r.Status(s.ID); return !s2.Running })
	setRefusing(false)
	eventually(t, 5*time.Second, "a restart once allowed", func() bool {
		s2, _ := r.Status(s.ID)
		if s2.Running {
			h.track(s2.PID)
		}
		return s2.Running && s2.PID != st.PID
	})
}
