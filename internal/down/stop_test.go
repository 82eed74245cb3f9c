package down

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/cellplane/cellplane/internal/datadir"
	"github.com/cellplane/cellplane/internal/poll"
	"github.com/cellplane/cellplane/internal/runtime/process"
)

// The pid files of a small data directory: one cell with its load balancer and
// store, the region's store and one tenant cluster, each with the tier it must
// stop in.
var layout = []struct {
	pidFile string
	tier    int
}{
	{"cells/cell-1/controllers.pid", 0},
	{"cells/cell-1/lb/lb.pid", 1},
	{"cells/cell-1/clusters/acct/demo/logs/kube-controller-manager-a.pid", 1},
	{"cells/cell-1/clusters/acct/demo/logs/kube-scheduler-b.pid", 1},
	{"cells/cell-1/clusters/acct/demo/logs/kube-apiserver-a.pid", 2},
	{"cells/cell-1/clusters/acct/demo/logs/kube-apiserver-b.pid", 2},
	{"cells/cell-1/store/logs/kube-apiserver.pid", 2},
	{"region/store/logs/kube-apiserver.pid", 2},
	{"cells/cell-1/clusters/acct/demo/logs/etcd-a.pid", 3},
	{"cells/cell-1/clusters/acct/demo/logs/etcd-b.pid", 3},
	{"cells/cell-1/clusters/acct/demo/logs/etcd-c.pid", 3},
	{"cells/cell-1/store/logs/etcd.pid", 3},
	{"region/store/logs/etcd.pid", 3},
}

// procs owns every process a test starts and kills what is left by PID at
// cleanup, checking the start time first.
type procs struct {
	t       *testing.T
	exe     string
	record  string
	rt      *process.Runtime
	mu      sync.Mutex
	started map[int]uint64
}

func newProcs(t *testing.T) *procs {
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	p := &procs{t: t, exe: exe, record: filepath.Join(t.TempDir(), "stops"), started: map[int]uint64{},
		rt: process.New(process.Options{Logger: slog.New(slog.NewTextHandler(t.Output(), nil))})}
	t.Cleanup(p.cleanup)
	return p
}

func (p *procs) env(helper string, more ...string) []string {
	return append([]string{helperEnv + "=" + helper, recordEnv + "=" + p.record}, more...)
}

// member starts a member through the process runtime, its pid file at pidFile
// (relative to root), named after it; args follow the name.
func (p *procs) member(root, pidFile string, args ...string) process.Status {
	p.t.Helper()
	path := filepath.Join(root, filepath.FromSlash(pidFile))
	st, err := p.rt.Ensure(context.Background(), process.Spec{
		ID: path, Path: p.exe, Args: append([]string{pidFile}, args...), Env: p.env("member"),
		StateDir: filepath.Dir(path), Name: strings.TrimSuffix(filepath.Base(path), ".pid"),
	})
	if err != nil {
		p.t.Fatal(err)
	}
	p.track(st.PID)
	return st
}

// command starts the test binary as helper, outside the runtime.
func (p *procs) command(env []string, args ...string) *exec.Cmd {
	p.t.Helper()
	cmd := exec.Command(p.exe, args...)
	cmd.Env = env
	cmd.Stderr = os.Stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		p.t.Fatal(err)
	}
	p.track(cmd.Process.Pid)
	go func() { _ = cmd.Wait() }() // reaped whoever ends it
	return cmd
}

func (p *procs) track(pid int) {
	st, err := process.StartTime(pid)
	if err != nil {
		p.t.Fatalf("pid %d: %v", pid, err)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.started[pid] = st
}

func (p *procs) alive(pid int) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return process.Alive(pid, p.started[pid])
}

// stops is what members recorded, in order.
func (p *procs) stops() []string {
	b, err := os.ReadFile(p.record)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		p.t.Fatal(err)
	}
	return strings.Fields(string(b))
}

func (p *procs) cleanup() {
	p.rt.Close()
	p.mu.Lock()
	defer p.mu.Unlock()
	for pid, st := range p.started {
		if process.Alive(pid, st) {
			_ = unix.Kill(pid, unix.SIGKILL)
		}
		err := poll.Until(context.Background(), 10*time.Second, 10*time.Millisecond, func() error {
			if process.Alive(pid, st) {
				return fmt.Errorf("pid %d survived SIGKILL", pid)
			}
			return nil
		})
		if err != nil {
			p.t.Errorf("cleanup: %v", err)
		}
	}
}

// startUp starts a stand-in for `cellplane up` on dataDir and waits until Find
// sees it.
func (p *procs) startUp(dataDir string, more ...string) *exec.Cmd {
	p.t.Helper()
	cmd := p.command(p.env("up", append([]string{dirEnv + "=" + dataDir}, more...)...))
	eventually(p.t, func() bool {
		plan, err := Find(dataDir)
		return err == nil && plan.Up != nil && plan.Up.PID == cmd.Process.Pid
	})
	return cmd
}

func eventually(t *testing.T, cond func() bool) {
	t.Helper()
	err := poll.Until(context.Background(), 20*time.Second, 20*time.Millisecond, func() error {
		if !cond() {
			return errors.New("the condition does not hold")
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func yes(*Plan) (bool, error) { return true, nil }

// TestStopRealProcesses lays out a data directory of real processes (the test
// binary playing each part) beside processes that are not the directory's: the
// same program with the same arguments, started by hand and by the runtime under
// another directory, and a pid file whose process died. Without confirmation
// Stop must stop nothing; with it, exactly the directory's processes, up first
// and then tier by tier; run again, nothing.
func TestStopRealProcesses(t *testing.T) {
	p := newProcs(t)
	dataDir, elsewhere := t.TempDir(), t.TempDir()
	var ours []int
	for _, l := range layout {
		ours = append(ours, p.member(dataDir, l.pidFile).PID)
	}
	dead := p.member(dataDir, "cells/cell-1/clusters/acct/gone/logs/etcd-a.pid")
	strangers := []int{
		p.command(p.env("member"), layout[8].pidFile).Process.Pid,
		// Another argument, or the runtime would adopt ours as its orphan.
		p.member(elsewhere, layout[8].pidFile, "elsewhere").PID,
	}
	// The runtime that started them plays the cells' runtimes, which leave their
	// processes running when they close.
	p.rt.Close()
	_ = unix.Kill(dead.PID, unix.SIGKILL)
	eventually(t, func() bool { return !p.alive(dead.PID) })
	up := p.startUp(dataDir)

	plan, err := Find(dataDir)
	if err != nil {
		t.Fatal(err)
	}
	if len(plan.Processes) != len(layout) || plan.Up == nil || !slices.Equal(plan.Clusters(), []string{"cell-1/acct/demo"}) {
		t.Fatalf("Find = up %v, %d processes (%s), clusters %v; want up, %d processes, one cluster",
			plan.Up, len(plan.Processes), plan.Describe(), plan.Clusters(), len(layout))
	}

	for _, ask := range []func(*Plan) (bool, error){nil, func(*Plan) (bool, error) { return false, nil }} {
		if res, err := Stop(context.Background(), plan, Options{Confirm: ask}); !errors.Is(err, ErrNotConfirmed) || res != (Result{}) {
			t.Fatalf("Stop without confirmation = %+v, %v; want ErrNotConfirmed", res, err)
		}
	}
	for _, pid := range append(ours, up.Process.Pid) {
		if !p.alive(pid) {
			t.Fatalf("pid %d stopped without confirmation", pid)
		}
	}
	if s := p.stops(); len(s) != 0 {
		t.Fatalf("stopped without confirmation: %v", s)
	}

	var progress bytes.Buffer
	res, err := Stop(context.Background(), plan, Options{Confirm: yes, Progress: &progress, Grace: 5 * time.Second})
	t.Logf("progress:\n%s", progress.String())
	if err != nil {
		t.Fatal(err)
	}
	if res != (Result{Up: true, Processes: len(layout)}) {
		t.Errorf("Stop = %+v, want up and %d processes", res, len(layout))
	}
	for _, pid := range append(ours, up.Process.Pid) {
		if p.alive(pid) {
			t.Errorf("pid %d still runs", pid)
		}
	}
	for _, pid := range strangers {
		if !p.alive(pid) {
			t.Errorf("stranger pid %d was stopped", pid)
		}
	}
	checkOrder(t, p.stops())
	for _, want := range []string{"stopping cellplane up (pid", "stopping 1 cell process ... done",
		"stopping 3 tenant etcd members, 2 store etcd members ... done"} {
		if !strings.Contains(progress.String(), want) {
			t.Errorf("progress misses %q", want)
		}
	}

	again, err := Find(dataDir)
	if err != nil || !again.Empty() {
		t.Fatalf("Find after Stop = %s, %v; want nothing", again.Describe(), err)
	}
	if res, err := Stop(context.Background(), again, Options{}); err != nil || res != (Result{}) {
		t.Fatalf("second Stop = %+v, %v; want nothing done", res, err)
	}
}

// checkOrder wants up first, then every member exactly once, never one of an
// earlier tier after one of a later tier.
func checkOrder(t *testing.T, stops []string) {
	t.Helper()
	t.Logf("stop order: %v", stops)
	if len(stops) == 0 || stops[0] != "up" {
		t.Fatalf("up did not stop first: %v", stops)
	}
	tier := map[string]int{}
	for _, l := range layout {
		tier[l.pidFile] = l.tier
	}
	last := 0
	for _, s := range stops[1:] {
		n, ok := tier[s]
		if !ok {
			t.Errorf("%s stopped, but it is not the data directory's", s)
			continue
		}
		if n < last {
			t.Errorf("%s (tier %d) stopped after tier %d", s, n, last)
		}
		last = n
		delete(tier, s)
	}
	if len(tier) > 0 {
		t.Errorf("never stopped: %v", tier)
	}
}

// TestStopKillsUpThatIgnoresTERM: an up that does not stop within its grace is
// killed, and Stop goes on.
func TestStopKillsUpThatIgnoresTERM(t *testing.T) {
	p := newProcs(t)
	dataDir := t.TempDir()
	up := p.startUp(dataDir, termEnv+"=ignore")
	plan, err := Find(dataDir)
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	res, err := Stop(context.Background(), plan, Options{UpGrace: 300 * time.Millisecond})
	if err != nil || !res.Up {
		t.Fatalf("Stop = %+v, %v", res, err)
	}
	if p.alive(up.Process.Pid) || time.Since(start) < 300*time.Millisecond {
		t.Fatalf("up alive %v after %s; want killed after its grace", p.alive(up.Process.Pid), time.Since(start))
	}
}

// TestFindIgnoresStaleLock: a lock file naming a PID that does not hold it (an
// up killed long ago, its PID since recycled) is not an up.
func TestFindIgnoresStaleLock(t *testing.T) {
	dataDir := t.TempDir()
	// Our own PID: alive, but without the lock file open.
	if err := os.WriteFile(datadir.LockFile(dataDir), []byte(strconv.Itoa(os.Getpid())+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	plan, err := Find(dataDir)
	if err != nil || !plan.Empty() {
		t.Fatalf("Find = %s, %v; want nothing", plan.Describe(), err)
	}
	if plan, err := Find(filepath.Join(dataDir, "missing")); err != nil || !plan.Empty() {
		t.Fatalf("Find(missing dir) = %v, %v; want nothing", plan, err)
	}
}
