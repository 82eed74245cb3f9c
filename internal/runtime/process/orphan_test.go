package process

import (
	"os"
	"os/exec"
	"syscall"
	"testing"
)

// TestAdoptOrphanWithoutPIDFile covers a kill of cellplane between starting a
// process and writing its pid file: the next Ensure must adopt that process, not
// start a second copy of it.
func TestAdoptOrphanWithoutPIDFile(t *testing.T) {
	h := newHarness(t)
	s := h.sleepSpec("orphan", "17")
	if err := os.MkdirAll(s.StateDir, 0o700); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(s.Path, s.Args...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	h.track(cmd.Process.Pid)
	go func() { _ = cmd.Wait() }()

	st := h.ensure(h.runtime(Options{}), s)
	if st.PID != cmd.Process.Pid || !st.Adopted {
		t.Fatalf("Ensure = %+v, want the orphan pid %d adopted", st, cmd.Process.Pid)
	}
	if p := h.pidFile(s); p.PID != cmd.Process.Pid || p.SpecHash != s.hash() {
		t.Fatalf("pid file = %+v, want the orphan recorded", p)
	}
}

// TestOrphanMustMatchExactly: a process with other arguments, or one that does
// not lead its own session, is not taken for the member.
func TestOrphanMustMatchExactly(t *testing.T) {
	h := newHarness(t)
	s := h.sleepSpec("exact", "18")
	other := exec.Command(s.Path, "1000", "19")
	other.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	sameButNoSession := exec.Command(s.Path, s.Args...)
	for _, c := range []*exec.Cmd{other, sameButNoSession} {
		if err := c.Start(); err != nil {
			t.Fatal(err)
		}
		h.track(c.Process.Pid)
		go func() { _ = c.Wait() }()
	}
	if pf, ok := findOrphan(s); ok {
		t.Fatalf("findOrphan matched pid %d", pf.PID)
	}
}
