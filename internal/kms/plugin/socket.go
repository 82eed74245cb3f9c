package plugin

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"strconv"

	"golang.org/x/sys/unix"
)

// maxSocketPath is what fits a unix socket address (sun_path holds 108 bytes
// with the terminating NUL). A cluster's directory can be longer than that.
const maxSocketPath = 107

// Listen binds a unix socket at path (mode 0600), replacing a socket a killed
// plugin left behind; anything else at path is refused.
func Listen(path string) (net.Listener, error) {
	if fi, err := os.Lstat(path); err == nil {
		if fi.Mode()&fs.ModeSocket == 0 {
			return nil, fmt.Errorf("%s exists and is not a socket", path)
		}
		if err := os.Remove(path); err != nil {
			return nil, fmt.Errorf("removing stale socket: %w", err)
		}
	}
	var ln net.Listener
	err := withShortPath(path, func(addr string) (err error) {
		ln, err = net.Listen("unix", addr)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("listening on %s: %w", path, err)
	}
	if err := os.Chmod(path, 0o600); err != nil {
		_ = ln.Close()
		return nil, fmt.Errorf("restricting %s: %w", path, err)
	}
	return ln, nil
}

// Dial connects to the unix socket at path, however long the path.
func Dial(ctx context.Context, path string) (net.Conn, error) {
	var c net.Conn
	err := withShortPath(path, func(addr string) (err error) {
		var d net.Dialer
		c, err = d.DialContext(ctx, "unix", addr)
		return err
	})
	return c, err
}

// withShortPath calls f with path, or, when path is too long for a socket
// address, with the same file reached through a descriptor of its directory
// (/proc/self/fd/N/name): bind and connect resolve it like any path.
func withShortPath(path string, f func(addr string) error) error {
	if len(path) <= maxSocketPath {
		return f(path)
	}
	dir, err := unix.Open(filepath.Dir(path), unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("opening socket directory: %w", err)
	}
	defer func() { _ = unix.Close(dir) }() // O_PATH: nothing to flush
	short := "/proc/self/fd/" + strconv.Itoa(dir) + "/" + filepath.Base(path)
	if len(short) > maxSocketPath {
		return errors.New("socket name too long")
	}
	return f(short)
}
