package nodegroups

import (
	"fmt"
	"os"
	"runtime"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"
)

// ExecHollow replaces the calling process with a hollow node: binary with
// args and the registration's flags, in a mount namespace of its own whose
// /tmp is tmp, so everything kubemark leaves under /tmp lives and dies with
// the node's directory. Without the privilege to make the namespace it runs
// with the machine's /tmp and says so.
func ExecHollow(tmp, registrationPath, binary string, args []string) error {
	reg, err := ReadRegistration(registrationPath)
	if err != nil {
		return err
	}
	// The binary is opened before /tmp changes: it may live under /tmp.
	bin, err := os.Open(binary) //nolint:gosec // G304: the kubemark binary of the cell's component cache
	if err != nil {
		return fmt.Errorf("opening %s: %w", binary, err)
	}
	runtime.LockOSThread()
	args = append(args, reg.Args()...)
	if err := privateTmp(tmp); err != nil {
		fmt.Fprintf(os.Stderr, "hollow-node: running with the machine's /tmp: %v\n", err)
	} else {
		// Paths in the node's tmp are under /tmp now.
		for i, a := range args {
			args[i] = strings.ReplaceAll(a, tmp, "/tmp")
		}
	}
	argv := append([]string{binary}, args...)
	// An ELF binary runs from its descriptor though it closes on exec.
	path := fmt.Sprintf("/proc/self/fd/%d", bin.Fd())
	return fmt.Errorf("executing %s: %w", binary, syscall.Exec(path, argv, os.Environ())) //nolint:gosec // G204: becoming kubemark is this wrapper's job
}

// privateTmp gives this thread (and what it executes) a mount namespace in
// which tmp is mounted over /tmp.
func privateTmp(tmp string) error {
	if err := unix.Unshare(unix.CLONE_NEWNS); err != nil {
		return fmt.Errorf("unsharing the mount namespace: %w", err)
	}
	if err := unix.Mount("", "/", "", unix.MS_REC|unix.MS_PRIVATE, ""); err != nil {
		return fmt.Errorf("making mounts private: %w", err)
	}
	if err := unix.Mount(tmp, "/tmp", "", unix.MS_BIND, ""); err != nil {
		return fmt.Errorf("mounting %s over /tmp: %w", tmp, err)
	}
	return nil
}
