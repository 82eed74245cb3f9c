package images

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"strings"
)

// hostTree gathers files of the host into an image's layer as the host
// lays them out: a path that crosses a symlink (Debian's merged /usr:
// /lib -> usr/lib) keeps the symlink, and the file goes where it really
// is, so programs and the dynamic loader find everything by the paths
// they were built with.
type hostTree struct {
	// root is the host's root directory ("/" but in tests).
	root  string
	files map[string]file
}

func newHostTree(root string) *hostTree {
	return &hostTree{root: root, files: map[string]file{}}
}

// add takes the file at p (absolute, as the host names it) and every
// symlink on the way to it.
func (t *hostTree) add(p string) error {
	return t.addDepth(p, 0)
}

// maxLinks bounds the symlinks followed for one path, as the kernel's
// ELOOP does.
const maxLinks = 40

func (t *hostTree) addDepth(p string, depth int) error {
	if depth > maxLinks {
		return fmt.Errorf("taking %s from the host: too many levels of symlinks", p)
	}
	p = path.Clean(p)
	if !path.IsAbs(p) || p == "/" {
		return fmt.Errorf("taking %q from the host: not an absolute file path", p)
	}
	parts := strings.Split(p[1:], "/")
	cur := "/"
	for i, part := range parts {
		next := path.Join(cur, part)
		hostPath := filepath.Join(t.root, filepath.FromSlash(next))
		fi, err := os.Lstat(hostPath)
		if err != nil {
			return fmt.Errorf("taking %s from the host: %w", p, err)
		}
		if fi.Mode()&os.ModeSymlink != 0 {
			target, err := os.Readlink(hostPath)
			if err != nil {
				return fmt.Errorf("taking %s from the host: %w", p, err)
			}
			t.files[next] = file{path: next, link: target}
			resolved := target
			if !path.IsAbs(target) {
				resolved = path.Join(cur, target)
			}
			return t.addDepth(path.Join(append([]string{resolved}, parts[i+1:]...)...), depth+1)
		}
		if i == len(parts)-1 {
			if !fi.Mode().IsRegular() {
				return fmt.Errorf("taking %s from the host: not a regular file", p)
			}
			data, err := os.ReadFile(hostPath) //nolint:gosec // G304: a host program or library the image is built from
			if err != nil {
				return fmt.Errorf("taking %s from the host: %w", p, err)
			}
			t.files[next] = file{path: next, mode: int64(fi.Mode().Perm()), data: data}
			return nil
		}
		if !fi.IsDir() {
			return fmt.Errorf("taking %s from the host: %s is not a directory", p, next)
		}
		cur = next
	}
	return nil
}

// link adds a symlink of the image's own at p.
func (t *hostTree) link(p, target string) {
	t.files[p] = file{path: p, link: target}
}

// list is the gathered files.
func (t *hostTree) list() []file {
	out := make([]file, 0, len(t.files))
	for _, f := range t.files {
		out = append(out, f)
	}
	return out
}

// libraryLister lists the shared libraries a program or library loads
// and its ELF interpreter, as absolute host paths.
type libraryLister func(ctx context.Context, program string) ([]string, error)

// lddLibraries asks the host's ldd.
func lddLibraries(ctx context.Context, program string) ([]string, error) {
	out, err := exec.CommandContext(ctx, "ldd", program).Output() //nolint:gosec // G204: ldd of a host file the image is built from
	if err != nil {
		return nil, fmt.Errorf("listing %s's libraries: %w", program, err)
	}
	libs, err := parseLdd(string(out))
	if err != nil {
		return nil, fmt.Errorf("listing %s's libraries: %w", program, err)
	}
	return libs, nil
}

// addWithLibraries takes each program or library with every shared
// library it needs and the ELF interpreter.
func (t *hostTree) addWithLibraries(ctx context.Context, paths []string, libraries libraryLister) error {
	seen := map[string]bool{}
	for _, p := range paths {
		if err := t.add(p); err != nil {
			return err
		}
		libs, err := libraries(ctx, p)
		if err != nil {
			return err
		}
		for _, l := range libs {
			if seen[l] {
				continue
			}
			seen[l] = true
			if err := t.add(l); err != nil {
				return err
			}
		}
	}
	return nil
}

// parseLdd reads ldd's listing of a dynamic program: the paths of its
// libraries and of its interpreter, in order. Libraries the kernel
// provides (the vDSO) have no path and are left out; a library ldd could
// not find is an error.
func parseLdd(out string) ([]string, error) {
	var libs []string
	sc := bufio.NewScanner(strings.NewReader(out))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" {
			continue
		}
		if line == "statically linked" || strings.Contains(line, "not a dynamic executable") {
			return nil, nil
		}
		name, target, found := strings.Cut(line, "=>")
		if found {
			target = strings.TrimSpace(target)
			if strings.HasPrefix(target, "not found") {
				return nil, fmt.Errorf("%s: not found", strings.TrimSpace(name))
			}
		} else {
			target = line
		}
		p, _, _ := strings.Cut(target, " (")
		p = strings.TrimSpace(p)
		if p == "" || !strings.HasPrefix(p, "/") {
			continue // linux-vdso.so.1 (0x...), or a name without a path
		}
		libs = append(libs, p)
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	if len(libs) == 0 {
		return nil, errors.New("ldd listed no library")
	}
	return libs, nil
}
