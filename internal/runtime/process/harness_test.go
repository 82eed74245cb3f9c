package process

import (
	"bytes"
	"context"
	"errors"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/cellplane/cellplane/internal/poll"
)

// harness owns everything a test starts: runtimes are closed and every
// process it saw is killed by PID at cleanup, before TempDir is removed.
type harness struct {
	t   *testing.T
	dir string

	mu       sync.Mutex
	runtimes []*Runtime
	specs    []Spec
	pids     []pidFile
}

func newHarness(t *testing.T) *harness {
	h := &harness{t: t, dir: t.TempDir()}
	t.Cleanup(h.cleanup)
	return h
}

// runtime returns a Runtime with fast test timings unless o sets them.
func (h *harness) runtime(o Options) *Runtime {
	if o.Logger == nil {
		o.Logger = slog.New(slog.NewTextHandler(h.t.Output(), &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	o.MinBackoff = orDefault(o.MinBackoff, 20*time.Millisecond)
	o.MaxBackoff = orDefault(o.MaxBackoff, 200*time.Millisecond)
	o.PollInterval = orDefault(o.PollInterval, 50*time.Millisecond)
	o.StopTimeout = orDefault(o.StopTimeout, 2*time.Second)
	r := New(o)
	h.mu.Lock()
	defer h.mu.Unlock()
	h.runtimes = append(h.runtimes, r)
	return r
}

func (h *harness) spec(name, path string, args ...string) Spec {
	s := Spec{
		ID: "test/" + name, Path: path, Args: args,
		Dir: filepath.Join(h.dir, "work", name), StateDir: filepath.Join(h.dir, "state"), Name: name,
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	h.specs = append(h.specs, s)
	return s
}

func (h *harness) sleepSpec(name string, args ...string) Spec {
	return h.spec(name, "/bin/sleep", append([]string{"1000"}, args...)...)
}

// ignoreTermSpec runs this test binary as a component that ignores SIGTERM.
func (h *harness) ignoreTermSpec(name string) Spec {
	exe, err := os.Executable()
	if err != nil {
		h.t.Fatal(err)
	}
	s := h.spec(name, exe)
	s.Env = []string{helperEnv + "=ignore-term"}
	return s
}

func (h *harness) ensure(r *Runtime, s Spec) Status {
	h.t.Helper()
	st, err := r.Ensure(context.Background(), s)
	if err != nil {
		h.t.Fatalf("Ensure(%s): %v", s.ID, err)
	}
	h.track(st.PID)
	return st
}

// track remembers a PID, with its current start time, for cleanup.
func (h *harness) track(pid int) {
	st, err := readStat(pid)
	if err != nil {
		return // already gone
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	h.pids = append(h.pids, pidFile{PID: pid, StartTime: st.startTime})
}

func (h *harness) cleanup() {
	for _, r := range h.runtimes {
		r.Close() // first, or supervisors would restart what we kill
	}
	for _, s := range h.specs {
		if p, err := readPIDFile(s.pidPath()); err == nil {
			h.pids = append(h.pids, p)
		}
	}
	for _, p := range h.pids {
		h.kill(p)
	}
}

func (h *harness) kill(p pidFile) {
	_ = sendSignal(p, ownsGroup(p), unix.SIGKILL)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if !pollExit(ctx, p.PID, p.StartTime, 10*time.Millisecond) {
		h.t.Errorf("cleanup: pid %d survived SIGKILL", p.PID)
	}
}

func (h *harness) pidFile(s Spec) pidFile {
	h.t.Helper()
	p, err := readPIDFile(s.pidPath())
	if err != nil {
		h.t.Fatal(err)
	}
	return p
}

func pidFileGone(s Spec) bool {
	_, err := os.Stat(s.pidPath())
	return errors.Is(err, fs.ErrNotExist)
}

func statOf(t *testing.T, pid int) procStat {
	t.Helper()
	st, err := readStat(pid)
	if err != nil {
		t.Fatal(err)
	}
	return st
}

// eventually polls cond until it holds or the deadline passes.
func eventually(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	err := poll.Until(context.Background(), timeout, 10*time.Millisecond, func() error {
		if cond() {
			return nil
		}
		return errors.New(what + " not yet")
	})
	if err != nil {
		t.Fatalf("waiting for %s: %v", what, err)
	}
}

// consistently fails if cond stops holding at any poll during d; it is how
// the tests show that something (a restart) does not happen.
func consistently(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	end := time.After(d)
	for {
		if !cond() {
			t.Fatalf("expected %s to hold for %v", what, d)
		}
		select {
		case <-end:
			return
		case <-tick.C:
		}
	}
}

// syncBuffer collects log output written from supervisor goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
