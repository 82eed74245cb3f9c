package zonenet

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"

	"github.com/cellplane/cellplane/internal/runtime/nsthread"
)

// netnsDir is where named namespaces are mounted, as `ip netns` and
// vishvananda/netns expect them.
const netnsDir = "/run/netns"

// isolated and inNS are nsthread's: things that take their namespace from
// the calling thread need them (/proc/sys/net, sockets, /dev/net/tun).
var (
	isolated = nsthread.Isolated
	inNS     = nsthread.In
)

// openNS opens the namespace at path, or the process's own for "".
func openNS(path string) (netns.NsHandle, error) {
	if path == "" {
		// Unlocked goroutines only run on threads in the process's
		// namespace, so the current thread's is the process's.
		return netns.Get()
	}
	return netns.GetFromPath(path)
}

// ensureNamed opens the named namespace, creating it when missing. It never
// replaces a live namespace: processes may be running in it.
func ensureNamed(name string) (ns netns.NsHandle, created bool, err error) {
	ns, err = netns.GetFromName(name)
	if err == nil && isNetNS(ns) {
		return ns, false, nil
	}
	if err == nil {
		// A plain file left by a mount that never happened (a crash
		// inside NewNamed): nothing can live in it.
		_ = ns.Close() // a handle on a plain file, about to be removed
		if err := os.Remove(filepath.Join(netnsDir, name)); err != nil {
			return -1, false, fmt.Errorf("removing stale namespace file %s: %w", name, err)
		}
	} else if !errors.Is(err, os.ErrNotExist) {
		return -1, false, fmt.Errorf("opening network namespace %s: %w", name, err)
	}
	err = isolated(func() error {
		// NewNamed moves the calling thread into the new namespace;
		// isolated moves it back.
		ns, err = netns.NewNamed(name)
		return err
	})
	if err != nil {
		return -1, false, fmt.Errorf("creating network namespace %s: %w", name, err)
	}
	return ns, true, nil
}

func isNetNS(ns netns.NsHandle) bool {
	var st unix.Statfs_t
	return unix.Fstatfs(int(ns), &st) == nil && st.Type == unix.NSFS_MAGIC
}

// deleteNamed unmounts and removes a named namespace. Processes still in it
// keep it alive; it just loses its name. A missing name is not an error.
func deleteNamed(name string) error {
	p := filepath.Join(netnsDir, name)
	if _, err := os.Stat(p); errors.Is(err, os.ErrNotExist) {
		return nil
	}
	// EINVAL: the file is there but nothing is mounted on it.
	if err := unix.Unmount(p, unix.MNT_DETACH); err != nil && !errors.Is(err, unix.EINVAL) {
		return fmt.Errorf("unmounting network namespace %s: %w", name, err)
	}
	if err := os.Remove(p); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("removing network namespace %s: %w", name, err)
	}
	return nil
}

// sysctl is one per-interface IPv4 setting, by its path under
// /proc/sys/net/ipv4.
type sysctl struct{ path, value string }

func conf(iface, key, value string) sysctl {
	return sysctl{filepath.Join("conf", iface, key), value}
}

func neigh(iface, key, value string) sysctl {
	return sysctl{filepath.Join("neigh", iface, key), value}
}

// setSysctls writes per-interface settings. It must run inside the
// interfaces' namespace (see inNS). It never touches conf/all, which would
// change the behaviour of every interface of the host.
func setSysctls(settings ...sysctl) error {
	for _, s := range settings {
		p := filepath.Join("/proc/sys/net/ipv4", s.path)
		if err := os.WriteFile(p, []byte(s.value), 0o644); err != nil { //nolint:gosec // G306: /proc/sys files exist; the mode is never applied
			return fmt.Errorf("setting %s: %w", p, err)
		}
	}
	return nil
}
