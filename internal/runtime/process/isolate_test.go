package process

import (
	"fmt"
	"os"
	"runtime"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/cellplane/cellplane/internal/runtime/cgroup"
)

// TestStartIsolated starts a process as another user, in a UTS namespace
// with its own host name and in a cgroup, and reads all three back from
// the kernel; the starting thread and the spec hash keep none of it.
func TestStartIsolated(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("isolation needs root")
	}
	g := testGroup(t)
	h := newHarness(t)
	r := h.runtime(Options{})
	s := h.sleepSpec("isolated")
	s.Dir = "/" // the harness's directories are root's 0700
	plain := s.hash()
	s.User = &Credential{UID: 0x7100fff0, GID: 0x7100fff1, Groups: []uint32{0x7100fff2}}
	s.Hostname = "member-x"
	s.Cgroup = g
	if s.hash() != plain {
		t.Fatal("isolation changed the spec hash: upgrading cellplane would restart every process")
	}
	st := h.ensure(r, s)

	status := readProc(t, st.PID, "status")
	u := s.User
	for _, want := range []string{
		fmt.Sprintf("Uid:\t%d\t%d", u.UID, u.UID), fmt.Sprintf("Gid:\t%d\t%d", u.GID, u.GID),
		fmt.Sprintf("Groups:\t%d \n", u.Groups[0]), "CapEff:\t0000000000000000",
	} {
		if !strings.Contains(status, want) {
			t.Errorf("/proc/%d/status lacks %q:\n%s", st.PID, want, status)
		}
	}
	if got := hostnameOf(t, st.PID); got != "member-x" {
		t.Errorf("child's host name %q, want member-x", got)
	}
	if ours, _ := os.Hostname(); ours == "member-x" {
		t.Error("our own host name changed")
	}
	if in, err := g.Contains(st.PID); err != nil || !in {
		t.Errorf("child in its cgroup: %v, %v", in, err)
	}
	if in, _ := g.Contains(os.Getpid()); in {
		t.Error("the test process itself joined the cgroup")
	}
}

// TestAdoptedJoinsCgroup: an adopted process cannot be restarted into its
// cgroup, so it is moved in as it runs.
func TestAdoptedJoinsCgroup(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("cgroups need root")
	}
	g := testGroup(t)
	h := newHarness(t)
	s := h.sleepSpec("adopted")
	first := h.ensure(h.runtime(Options{}), s)
	if in, _ := g.Contains(first.PID); in {
		t.Fatal("in the cgroup before asked")
	}
	s.Cgroup = g
	r2 := h.runtime(Options{})
	st := h.ensure(r2, s)
	if !st.Adopted || st.PID != first.PID {
		t.Fatalf("status %+v: want pid %d adopted, not restarted", st, first.PID)
	}
	if in, err := g.Contains(st.PID); err != nil || !in {
		t.Errorf("adopted process in its cgroup: %v, %v", in, err)
	}
}

func testGroup(t *testing.T) *cgroup.Group {
	t.Helper()
	m, err := cgroup.Detect()
	if err != nil {
		t.Skipf("no cgroups here: %v", err)
	}
	g := m.Group(fmt.Sprintf("cellplane-process-test-%d/%s", os.Getpid(), t.Name()))
	if err := g.Ensure(cgroup.DefaultLimits()); err != nil {
		t.Fatal(err)
	}
	parent := m.Group(fmt.Sprintf("cellplane-process-test-%d", os.Getpid()))
	t.Cleanup(func() {
		// The harness has killed the children by now (cleanups run last first).
		if err := g.Remove(); err != nil {
			t.Error(err)
		}
		_ = parent.Remove() // shared by the package's tests; the last one removes it
	})
	return g
}

func readProc(t *testing.T, pid int, file string) string {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/%s", pid, file))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// hostnameOf enters pid's UTS namespace on a thread it then discards.
func hostnameOf(t *testing.T, pid int) string {
	t.Helper()
	type result struct {
		name string
		err  error
	}
	c := make(chan result, 1)
	go func() {
		runtime.LockOSThread() // never unlocked: the thread ends in pid's namespace
		fd, err := unix.Open(fmt.Sprintf("/proc/%d/ns/uts", pid), unix.O_RDONLY, 0)
		if err != nil {
			c <- result{err: err}
			return
		}
		defer func() { _ = unix.Close(fd) }()
		if err := unix.Setns(fd, unix.CLONE_NEWUTS); err != nil {
			c <- result{err: err}
			return
		}
		name, err := os.Hostname()
		c <- result{name, err}
	}()
	r := <-c
	if r.err != nil {
		t.Fatal(r.err)
	}
	return r.name
}
