package tenantuser

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/cellplane/cellplane/internal/pki"
	"github.com/cellplane/cellplane/internal/runtime/process"
)

func TestForIsDistinctAndInRange(t *testing.T) {
	seen := map[uint32]string{}
	for _, octet := range []int{1, 100, 101, 255} {
		for _, slot := range []int{0, 1, 2031} {
			c := For(octet, slot)
			where := fmt.Sprintf("octet %d slot %d", octet, slot)
			if c.UID != c.GID || c.UID <= TraverseGID || c.UID >= 0x72000000 {
				t.Errorf("%s: uid %#x gid %#x outside cellplane's range", where, c.UID, c.GID)
			}
			if prev, ok := seen[c.UID]; ok {
				t.Errorf("%s and %s share uid %#x", where, prev, c.UID)
			}
			seen[c.UID] = where
			if len(c.Groups) != 1 || c.Groups[0] != TraverseGID {
				t.Errorf("%s: groups %v, want only the traverse group", where, c.Groups)
			}
		}
	}
	if first, again := For(101, 7), For(101, 7); first.UID != again.UID {
		t.Error("ids are not stable")
	}
}

func TestWithGroupSearch(t *testing.T) {
	fromMode := []aclEntry{{aclUserObj, 7, aclUndef}, {aclGroupObj, 0, aclUndef}, {aclOther, 0, aclUndef}}
	got, changed := withGroupSearch(fromMode, 42)
	want := []aclEntry{{aclUserObj, 7, aclUndef}, {aclGroupObj, 0, aclUndef}, {aclGroup, 1, 42}, {aclMask, 1, aclUndef}, {aclOther, 0, aclUndef}}
	if !changed || fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("0700: got %v, want %v", got, want)
	}
	if _, changed := withGroupSearch(got, 42); changed {
		t.Error("granting twice changed the ACL")
	}
	// A group readable directory keeps its group's bits under the mask.
	got, _ = withGroupSearch([]aclEntry{{aclUserObj, 7, aclUndef}, {aclGroupObj, 5, aclUndef}, {aclOther, 0, aclUndef}}, 42)
	if m := got[3]; m.tag != aclMask || m.perm != 5 {
		t.Errorf("mask %v, want r-x", m)
	}
	// Decoding what we encode gives it back.
	back, err := decodeACL(encodeACL(want))
	if err != nil || fmt.Sprint(back) != fmt.Sprint(want) {
		t.Errorf("round trip: %v, %v", back, err)
	}
}

// TestTenantsReadOnlyTheirOwn lays out two clusters under a 0700 tree, as
// /root/.cellplane would be, and reads their keys as each tenant's user with
// a real process: each reads its own and not the other's, and neither lists
// the directories above its own nor reads a root key beside them.
func TestTenantsReadOnlyTheirOwn(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root")
	}
	top := t.TempDir()
	if err := os.Chmod(top, 0o700); err != nil { // like /root
		t.Fatal(err)
	}
	secret := filepath.Join(top, "keys", "master")
	if err := pki.WriteFileAtomic(secret, []byte("master"), 0o600); err != nil {
		t.Fatal(err)
	}
	a, b := For(201, 1), For(201, 2)
	keyOf := map[uint32]string{}
	for name, c := range map[string]process.Credential{"a": a, "b": b} {
		dir := filepath.Join(top, "cells", "clusters", name)
		d := Dirs{Cluster: dir, Shared: []string{filepath.Join(dir, "pki")}, Writable: []string{filepath.Join(dir, "logs")}}
		if err := Prepare(d, c); err != nil {
			t.Fatal(err)
		}
		key := filepath.Join(dir, "pki", "etcd", "ca.key")
		if err := pki.WriteFileAtomic(key, []byte("key "+name), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := Prepare(d, c); err != nil { // repairs nothing, changes nothing
			t.Fatal(err)
		}
		if err := OwnTree(filepath.Join(dir, "etcd-a"), c); err != nil {
			t.Fatal(err)
		}
		keyOf[c.UID] = key
	}
	// A program in a root-only cache (the component cache is 0700): the
	// tenant may run it, not read it.
	prog := filepath.Join(top, "cache", "bin", "true")
	raw, err := os.ReadFile("/bin/true")
	if err != nil {
		t.Fatal(err)
	}
	if err := pki.WriteFileAtomic(prog, raw, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := GrantTraverse(prog, TraverseGID); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		as   process.Credential
		args []string
		ok   bool
	}{
		{a, []string{"cat", keyOf[a.UID]}, true},
		{b, []string{"cat", keyOf[b.UID]}, true},
		{a, []string{"cat", keyOf[b.UID]}, false},
		{b, []string{"cat", keyOf[a.UID]}, false},
		{a, []string{"cat", secret}, false},
		{a, []string{"ls", filepath.Join(top, "cells", "clusters")}, false},
		{a, []string{"ls", top}, false},
		{a, []string{"touch", filepath.Join(top, "cells", "clusters", "a", "logs", "audit.log")}, true},
		{a, []string{"touch", filepath.Join(top, "cells", "clusters", "a", "pki", "planted")}, false},
		{a, []string{"touch", filepath.Join(top, "cells", "clusters", "a", "etcd-a", "db")}, true},
		{b, []string{"ls", filepath.Join(top, "cells", "clusters", "a", "etcd-a")}, false},
		{a, []string{prog}, true},
		{a, []string{"cat", prog}, false},
		{a, []string{"ls", filepath.Dir(prog)}, false},
	} {
		cmd := exec.Command(tc.args[0], tc.args[1:]...)
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: tc.as.UID, Gid: tc.as.GID, Groups: tc.as.Groups}}
		out, err := cmd.CombinedOutput()
		if (err == nil) != tc.ok {
			t.Errorf("uid %#x %v: err %v (%s), want success %v", tc.as.UID, tc.args, err, out, tc.ok)
		}
	}
}
