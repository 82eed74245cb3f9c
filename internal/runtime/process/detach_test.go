package process

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"
)

func TestProcessHasOwnSession(t *testing.T) {
	h := newHarness(t)
	st := h.ensure(h.runtime(Options{}), h.sleepSpec("session"))

	child, self := statOf(t, st.PID), statOf(t, os.Getpid())
	if child.session == self.session {
		t.Errorf("child shares our session %d", self.session)
	}
	if child.session != st.PID || child.pgid != st.PID {
		t.Errorf("child session %d, group %d; want it to lead both (pid %d)", child.session, child.pgid, st.PID)
	}
}

// TestProcessOutlivesCellplane runs a stand-in cellplane in a child process,
// kills it the ways cellplane dies in practice, and checks that the managed
// process keeps running and is adopted by the next runtime.
func TestProcessOutlivesCellplane(t *testing.T) {
	for _, tc := range []struct {
		name   string
		ending string
		kill   func(t *testing.T, pgid int)
	}{
		{"os.Exit", "exit", nil},
		{"Ctrl-C then SIGKILL to its process group", "signal", func(t *testing.T, pgid int) {
			for _, sig := range []unix.Signal{unix.SIGINT, unix.SIGKILL} {
				if err := unix.Kill(-pgid, sig); err != nil {
					t.Fatal(err)
				}
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t)
			s := h.sleepSpec("outlive")
			standinPID, st := runStandin(t, h, s, tc.ending, tc.kill)

			p := h.pidFile(s)
			if p.PID != st.PID || !p.alive() {
				t.Fatalf("managed pid %d not alive after the stand-in died", st.PID)
			}
			if ppid := parentOf(t, st.PID); ppid == standinPID {
				t.Errorf("managed process still a child of the dead stand-in")
			}
			adopted := h.ensure(h.runtime(Options{}), s)
			if adopted.PID != st.PID || !adopted.Adopted {
				t.Errorf("Ensure = %+v, want pid %d adopted", adopted, st.PID)
			}
		})
	}
}

// runStandin starts the stand-in in its own process group (like a shell job),
// reads the status it reports, ends it and waits for it to be gone.
func runStandin(t *testing.T, h *harness, s Spec, ending string, kill func(*testing.T, int)) (int, Status) {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	spec, _ := json.Marshal(s)
	cmd := exec.Command(exe)
	cmd.Env = []string{helperEnv + "=standin", standinSpec + "=" + string(spec), standinEnding + "=" + ending}
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	h.track(cmd.Process.Pid)
	var st Status
	if err := json.NewDecoder(bufio.NewReader(out)).Decode(&st); err != nil {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		t.Fatalf("reading the stand-in's status: %v", err)
	}
	h.track(st.PID)
	if kill != nil {
		kill(t, cmd.Process.Pid)
	}
	if err := cmd.Wait(); err == nil {
		t.Fatal("stand-in exited cleanly, want an abrupt end")
	}
	return cmd.Process.Pid, st
}

// parentOf reads field 4 of /proc/<pid>/stat, which readStat does not need.
func parentOf(t *testing.T, pid int) int {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		t.Fatal(err)
	}
	f := strings.Fields(string(b[bytes.LastIndexByte(b, ')')+1:]))
	ppid, err := strconv.Atoi(f[1])
	if err != nil {
		t.Fatal(err)
	}
	return ppid
}
