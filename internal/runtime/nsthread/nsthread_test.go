package nsthread

import (
	"fmt"
	"os"
	"testing"

	"github.com/vishvananda/netns"
)

// TestInPath switches a thread into a namespace of the test's own and back:
// fn sees the namespace, and the caller's threads never do.
func TestInPath(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to create a network namespace")
	}
	name := fmt.Sprintf("cpnsthread-test-%d", os.Getpid())
	var created netns.NsHandle
	err := Isolated(func() (err error) {
		created, err = netns.NewNamed(name) // switches the locked thread into it
		return err
	})
	if err != nil {
		t.Skipf("cannot create a network namespace here: %v", err)
	}
	t.Cleanup(func() { created.Close(); _ = netns.DeleteNamed(name) })
	ours, err := os.Readlink("/proc/self/ns/net")
	if err != nil {
		t.Fatal(err)
	}
	var inside string
	if err := InPath("/run/netns/"+name, func() (err error) {
		inside, err = os.Readlink("/proc/thread-self/ns/net")
		return err
	}); err != nil {
		t.Fatal(err)
	}
	if want := "net:[" + fmt.Sprint(inodeOf(t, created)) + "]"; inside != want || inside == ours {
		t.Fatalf("fn ran in %s; want %s (ours is %s)", inside, want, ours)
	}
	if now, _ := os.Readlink("/proc/thread-self/ns/net"); now != ours {
		t.Fatalf("the caller's thread is in %s, want %s", now, ours)
	}
	if err := InPath("/run/netns/cpnsthread-missing", func() error { return nil }); err == nil {
		t.Fatal("a missing namespace gave no error")
	}
}

func inodeOf(t *testing.T, ns netns.NsHandle) uint64 {
	t.Helper()
	id := ns.UniqueId() // "NS(dev:inode)"
	var dev, ino uint64
	if _, err := fmt.Sscanf(id, "NS(%d:%d)", &dev, &ino); err != nil {
		t.Fatalf("namespace id %q: %v", id, err)
	}
	return ino
}
