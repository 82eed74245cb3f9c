package process

import (
	"fmt"
	"os"
	"testing"

	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"

	"github.com/cellplane/cellplane/internal/runtime/nsthread"
)

// TestStartInNetworkNamespace starts a process in a namespace of the test's
// own and reads back from /proc that it lives there, while we do not.
func TestStartInNetworkNamespace(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to create a network namespace")
	}
	name := fmt.Sprintf("cpproc-test-%d", os.Getpid())
	var ns netns.NsHandle
	err := nsthread.Isolated(func() (err error) {
		ns, err = netns.NewNamed(name) // switches the locked thread into it
		return err
	})
	if err != nil {
		t.Skipf("cannot create a network namespace here: %v", err)
	}
	t.Cleanup(func() { ns.Close(); _ = netns.DeleteNamed(name) })

	h := newHarness(t)
	r := h.runtime(Options{})
	s := h.sleepSpec("in-ns")
	plain := s.hash()
	s.NetNS = "/run/netns/" + name
	if s.hash() == plain {
		t.Fatal("the namespace is not part of the spec hash")
	}
	st := h.ensure(r, s)
	child, err := os.Readlink(fmt.Sprintf("/proc/%d/ns/net", st.PID))
	if err != nil {
		t.Fatal(err)
	}
	var fi unix.Stat_t
	if err := unix.Stat(s.NetNS, &fi); err != nil {
		t.Fatal(err)
	}
	if want := fmt.Sprintf("net:[%d]", fi.Ino); child != want {
		t.Fatalf("child runs in %s, want %s", child, want)
	}
	if ours, _ := os.Readlink("/proc/thread-self/ns/net"); ours == child {
		t.Fatal("the starting thread stayed in the child's namespace")
	}
}
