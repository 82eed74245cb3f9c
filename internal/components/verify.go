package components

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/cellplane/cellplane/internal/pki"
)

// ErrTampered: a cached binary does not match the SHA-256 recorded when it was
// built, or the cache is laid out so that others could have replaced it.
var ErrTampered = errors.New("component binary failed verification")

// manifestFile lists the SHA-256 of every binary of a cache entry, in
// sha256sum's format, so `sha256sum -c .sha256` in the entry checks it too.
const manifestFile = ".sha256"

// binaries are the names of the binaries spec installs, sorted.
func (spec buildSpec) binaries() []string {
	var names []string
	for _, p := range spec.packages {
		n := binaryName(p)
		if to, ok := spec.rename[n]; ok {
			n = to
		}
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}

// writeManifest hashes the binaries in dir and records them, durably, before
// the entry is marked complete. note, if set, is a comment line.
func writeManifest(dir string, names []string, note string) error {
	var buf bytes.Buffer
	if note != "" {
		fmt.Fprintf(&buf, "# %s\n", note)
	}
	for _, n := range names {
		sum, err := hashFile(filepath.Join(dir, n))
		if err != nil {
			return fmt.Errorf("hashing %s: %w", n, err)
		}
		fmt.Fprintf(&buf, "%s  %s\n", sum, n)
	}
	if err := pki.WriteFileAtomic(filepath.Join(dir, manifestFile), buf.Bytes(), 0o600); err != nil {
		return fmt.Errorf("recording binary hashes: %w", err)
	}
	return nil
}

func readManifest(dir string) (map[string]string, error) {
	data, err := os.ReadFile(filepath.Join(dir, manifestFile)) //nolint:gosec // G304: the cache entry's own manifest
	if err != nil {
		return nil, err
	}
	sums := map[string]string{}
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		line := sc.Text()
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		sum, name, ok := strings.Cut(line, "  ")
		if !ok || len(sum) != 2*sha256.Size {
			return nil, fmt.Errorf("%w: %s has a malformed line %q", ErrTampered, filepath.Join(dir, manifestFile), line)
		}
		sums[name] = sum
	}
	return sums, nil
}

func hashFile(path string) (string, error) {
	f, err := os.Open(path) //nolint:gosec // G304: a binary of the cache
	if err != nil {
		return "", err
	}
	defer func() { _ = f.Close() }() // read only: Copy reports what went wrong
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// stamp identifies one version of a file: a write changes its mtime and ctime
// (which no one but the kernel sets), a replacement its inode. A binary whose
// stamp is unchanged since it was hashed need not be hashed again.
type stamp struct {
	dev, ino, size   uint64
	mtimeNs, ctimeNs int64
}

func stampOf(fi fs.FileInfo) stamp {
	st, _ := fi.Sys().(*syscall.Stat_t)
	if st == nil {
		return stamp{}
	}
	return stamp{dev: st.Dev, ino: st.Ino, size: uint64(st.Size), //nolint:gosec // G115: a file size is never negative
		mtimeNs: st.Mtim.Nano(), ctimeNs: st.Ctim.Nano()}
}

// verify checks every binary of the complete entry dir against its manifest.
// An entry built before manifests existed is adopted (see adopt).
func (c *Cache) verify(dir string, spec buildSpec) error {
	sums, err := readManifest(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return c.adopt(dir, spec)
	}
	if err != nil {
		return err
	}
	for _, n := range spec.binaries() {
		want, ok := sums[n]
		if !ok {
			return fmt.Errorf("%w: %s has no recorded hash for %s; remove %s to rebuild it", ErrTampered, filepath.Join(dir, manifestFile), n, dir)
		}
		if err := c.verifyFile(filepath.Join(dir, n), want); err != nil {
			return err
		}
	}
	return nil
}

// verifyFile hashes path, unless it is unchanged since it last matched, and
// compares the hash with want.
func (c *Cache) verifyFile(path, want string) error {
	fi, err := privateFile(path)
	if err != nil {
		return err
	}
	st := stampOf(fi)
	c.mu.Lock()
	ok := st != (stamp{}) && c.verified[path] == st
	c.mu.Unlock()
	if ok {
		return nil
	}
	got, err := hashFile(path)
	if err != nil {
		return fmt.Errorf("verifying %s: %w", path, err)
	}
	if got != want {
		return fmt.Errorf("%w: %s has SHA-256 %s, but %s was recorded when it was built: it was altered since; refusing to run it (remove %s to rebuild it)",
			ErrTampered, path, got, want, filepath.Dir(path))
	}
	c.mu.Lock()
	c.verified[path] = st
	c.mu.Unlock()
	return nil
}

// privateFile checks that path is a regular file of ours that no one else
// may write.
func privateFile(path string) (fs.FileInfo, error) {
	fi, err := os.Lstat(path)
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %w", ErrTampered, path, err)
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("%w: %s is not a regular file", ErrTampered, path)
	}
	if err := ownedPrivately(path, fi); err != nil {
		return nil, err
	}
	return fi, nil
}

func ownedPrivately(path string, fi fs.FileInfo) error {
	if st, ok := fi.Sys().(*syscall.Stat_t); ok && int(st.Uid) != os.Geteuid() {
		return fmt.Errorf("%w: %s belongs to uid %d, not to this process's uid %d", ErrTampered, path, st.Uid, os.Geteuid())
	}
	if fi.Mode().Perm()&0o022 != 0 {
		return fmt.Errorf("%w: %s has mode %04o: group or others may replace it", ErrTampered, path, fi.Mode().Perm())
	}
	return nil
}

// adopt records the hashes of an entry built before manifests existed, with a
// warning. Rebuilding instead would cost some ten minutes per Kubernetes
// release on first start after an upgrade; adopting is as safe, because the
// same conditions are checked first: the entry and every binary are ours and
// writable by no one else, in a cache that is ours and writable by no one
// else, so whoever could have altered a binary could as well have written a
// manifest for it. An entry that fails them is refused.
func (c *Cache) adopt(dir string, spec buildSpec) error {
	unlock, err := c.lock()
	if err != nil {
		return err
	}
	defer unlock()
	if _, err := readManifest(dir); err == nil {
		return c.verify(dir, spec) // adopted by another process meanwhile
	}
	fi, err := os.Lstat(dir)
	if err != nil || !fi.IsDir() {
		return fmt.Errorf("%w: cache entry %s is not a directory", ErrTampered, dir)
	}
	if err := ownedPrivately(dir, fi); err != nil {
		return err
	}
	names := spec.binaries()
	for _, n := range names {
		if _, err := privateFile(filepath.Join(dir, n)); err != nil {
			return fmt.Errorf("adopting %s, built before binaries were hashed: %w (remove it to rebuild it)", dir, err)
		}
	}
	note := "adopted " + time.Now().UTC().Format(time.RFC3339) + ": built before binaries were hashed; hashes recorded on first use"
	if err := writeManifest(dir, names, note); err != nil {
		return err
	}
	c.progressf("warning: %s was built before cellplane recorded binary hashes; recorded them now (%s), after checking that only this user could have written it. Remove it to rebuild it if in doubt.\n",
		dir, strings.Join(names, ", "))
	return nil
}

// ensureRoot creates the cache directory 0700, or tightens an existing one:
// it must be ours, and no one else may write it (nor, without an ACL, read or
// search it). A directory with an ACL keeps its group class (the ACL mask)
// minus write: tenant isolation grants tenants' groups search there, and
// search lets them run a binary but not list, replace or add one.
func (c *Cache) ensureRoot() error {
	dir := c.cfg.CacheDir
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("creating component cache: %w", err)
	}
	fi, err := os.Lstat(dir)
	if err != nil {
		return fmt.Errorf("checking component cache: %w", err)
	}
	if !fi.IsDir() {
		return fmt.Errorf("%w: component cache %s is not a directory", ErrTampered, dir)
	}
	if st, ok := fi.Sys().(*syscall.Stat_t); ok && int(st.Uid) != os.Geteuid() {
		return fmt.Errorf("%w: component cache %s belongs to uid %d, not to this process's uid %d: others could replace its binaries (chown it, or remove it to rebuild)",
			ErrTampered, dir, st.Uid, os.Geteuid())
	}
	perm := fi.Mode().Perm()
	want := perm &^ 0o077
	if hasACL(dir) {
		want = perm &^ 0o027
	}
	if perm == want {
		return nil
	}
	if err := os.Chmod(dir, want); err != nil {
		return fmt.Errorf("restricting component cache %s: %w", dir, err)
	}
	c.progressf("restricted component cache %s from mode %04o to %04o\n", dir, perm, want)
	return nil
}

func hasACL(path string) bool {
	n, err := unix.Getxattr(path, "system.posix_acl_access", nil)
	return err == nil && n > 0
}
