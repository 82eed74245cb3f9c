package process

import (
	"errors"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"testing"
	"time"
)

// TestRunningListsOnlyWhatPIDFilesRightlyName starts two processes through the
// runtime and then lays traps beside them: pid files naming a stranger (a recycled
// PID, or the right start time but another binary), a dead process and garbage.
// Running must list exactly the two.
func TestRunningListsOnlyWhatPIDFilesRightlyName(t *testing.T) {
	h := newHarness(t)
	r := h.runtime(Options{})
	a, b := h.sleepSpec("a", "31"), h.sleepSpec("b", "32")
	b.StateDir = filepath.Join(h.dir, "state", "nested", "logs")
	h.ensure(r, a)
	h.ensure(r, b)
	r.Close()

	stranger := exec.Command("/bin/sleep", "1000")
	if err := stranger.Start(); err != nil {
		t.Fatal(err)
	}
	h.track(stranger.Process.Pid)
	go func() { _ = stranger.Wait() }() // reaped once the harness kills it
	st := statOf(t, stranger.Process.Pid)
	dead := exec.Command("/bin/true")
	if err := dead.Run(); err != nil {
		t.Fatal(err)
	}
	traps := map[string]pidFile{
		"recycled":   {PID: stranger.Process.Pid, StartTime: st.startTime + 1, Path: "/bin/sleep"},
		"other-bin":  {PID: stranger.Process.Pid, StartTime: st.startTime, Path: "/usr/bin/sleep-not"},
		"no-path":    {PID: stranger.Process.Pid, StartTime: st.startTime},
		"dead":       {PID: dead.ProcessState.Pid(), StartTime: st.startTime, Path: "/bin/true"},
		"no-process": {PID: 0, Path: "/bin/sleep"},
	}
	for name, p := range traps {
		if err := writePIDFile(filepath.Join(h.dir, "state", name+".pid"), p); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(h.dir, "state", "garbage.pid"), []byte("{"), 0o600); err != nil {
		t.Fatal(err)
	}

	got, err := Running(h.dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, g := range got {
		names = append(names, g.Name)
		p := h.pidFile(Spec{StateDir: g.StateDir, Name: g.Name})
		if g.PID != p.PID || g.Path != "/bin/sleep" || g.PIDFile() != filepath.Join(g.StateDir, g.Name+".pid") ||
			time.Since(g.StartedAt) > time.Minute {
			t.Errorf("Running listed %+v; pid file %+v", g, p)
		}
	}
	if want := []string{"a", "b"}; !slices.Equal(names, want) {
		t.Fatalf("Running listed %v, want %v", names, want)
	}
	if got[1].StateDir != b.StateDir {
		t.Errorf("b's StateDir = %s, want %s", got[1].StateDir, b.StateDir)
	}
}

func TestRunningOnMissingRoot(t *testing.T) {
	if _, err := Running(filepath.Join(t.TempDir(), "missing")); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("Running(missing) error = %v, want fs.ErrNotExist", err)
	}
}
