package pki

import (
	"os"
	"path/filepath"
	"syscall"
	"testing"
)

func TestWriteFileAtomic(t *testing.T) {
	// A permissive umask must not loosen, nor a strict one tighten, the modes.
	for _, umask := range []int{0, 0o077} {
		old := syscall.Umask(umask)
		t.Cleanup(func() { syscall.Umask(old) })
		for _, perm := range []os.FileMode{0o600, 0o644} {
			root := t.TempDir()
			path := filepath.Join(root, "sub", "f")
			for _, content := range []string{"first", "second"} {
				if err := WriteFileAtomic(path, []byte(content), perm); err != nil {
					t.Fatal(err)
				}
				assertFile(t, path, content, perm)
			}
			assertMode(t, filepath.Dir(path), dirPerm)
			if entries, _ := os.ReadDir(filepath.Dir(path)); len(entries) != 1 {
				t.Errorf("umask %o perm %o: %d entries left in directory, want 1", umask, perm, len(entries))
			}
		}
	}
}

func TestWriteFileAtomicFailureLeavesTarget(t *testing.T) {
	root := t.TempDir()
	path, sub := filepath.Join(root, "f"), filepath.Join(root, "d")
	if err := WriteFileAtomic(path, []byte("kept"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(sub, 0o700); err != nil {
		t.Fatal(err)
	}
	// Renaming a file over a directory fails after the temp file is written.
	if err := WriteFileAtomic(sub, []byte("x"), 0o600); err == nil {
		t.Fatal("want error writing over a directory")
	}
	assertFile(t, path, "kept", 0o600)
	if entries, _ := os.ReadDir(root); len(entries) != 2 {
		t.Errorf("%d entries in %s, want 2: temp file not cleaned up", len(entries), root)
	}
}

func TestEnsureDirTightens(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "pki")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if _, _, err := EnsureCA(dir, "ca", "ca"); err != nil {
		t.Fatal(err)
	}
	assertMode(t, dir, dirPerm)
}

func assertFile(t *testing.T, path, content string, perm os.FileMode) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil || string(data) != content {
		t.Errorf("%s = %q, %v; want %q", path, data, err, content)
	}
	assertMode(t, path, perm)
}

func assertMode(t *testing.T, path string, perm os.FileMode) {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if got := fi.Mode().Perm(); got != perm {
		t.Errorf("%s mode %o, want %o", path, got, perm)
	}
}

// TestSharedDirGivesGroupRead: a key written into a setgid directory gets
// its group and group read, and EnsureCA keeps the directory shared, as a
// tenant's processes read their keys through the directory's group.
func TestSharedDirGivesGroupRead(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "pki")
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	gid := 4242
	if os.Geteuid() != 0 {
		gid = os.Getegid() // without root only our own group is ours to give
	}
	if err := os.Chown(dir, -1, gid); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(dir, 0o750|os.ModeSetgid); err != nil {
		t.Fatal(err)
	}
	if _, _, err := EnsureCA(dir, "ca", "ca"); err != nil {
		t.Fatal(err)
	}
	assertMode(t, filepath.Join(dir, "ca.key"), 0o640)
	assertMode(t, filepath.Join(dir, "ca.crt"), 0o644)
	fi, err := os.Stat(filepath.Join(dir, "ca.key"))
	if err != nil {
		t.Fatal(err)
	}
	if got := fi.Sys().(*syscall.Stat_t).Gid; int(got) != gid {
		t.Errorf("key group %d, want the directory's %d", got, gid)
	}
	di, err := os.Stat(dir)
	if err != nil {
		t.Fatal(err)
	}
	if di.Mode()&os.ModeSetgid == 0 || di.Mode().Perm() != 0o750 {
		t.Errorf("directory mode %v, want setgid 0750 kept", di.Mode())
	}
}
