// Package nsthread runs code on an operating-system thread switched into
// another network namespace. A namespace belongs to a thread, not to the Go
// process, and what is made on the thread keeps its namespace: sockets,
// TUN devices, /proc/sys/net files opened there, and children forked from it.
package nsthread

import (
	"errors"
	"fmt"
	"runtime"

	"github.com/vishvananda/netns"
)

// Isolated runs fn on a fresh goroutine locked to its OS thread, so fn may
// switch the thread's network namespace without affecting any other
// goroutine. The thread goes back to its namespace afterwards; if that fails
// it stays locked, and the runtime ends it with the goroutine rather than
// hand a thread in the wrong namespace to other code.
func Isolated(fn func() error) error {
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		orig, err := netns.Get()
		if err != nil {
			runtime.UnlockOSThread()
			errc <- fmt.Errorf("reading the thread's network namespace: %w", err)
			return
		}
		defer func() { _ = orig.Close() }() // a namespace handle: closing only drops the reference
		err = fn()
		if rerr := netns.Set(orig); rerr != nil {
			errc <- errors.Join(err, fmt.Errorf("restoring the thread's network namespace: %w", rerr))
			return
		}
		runtime.UnlockOSThread()
		errc <- err
	}()
	return <-errc
}

// In runs fn on a thread inside ns.
func In(ns netns.NsHandle, fn func() error) error {
	return Isolated(func() error {
		if err := netns.Set(ns); err != nil {
			return fmt.Errorf("entering network namespace: %w", err)
		}
		return fn()
	})
}

// InPath runs fn on a thread inside the namespace mounted at path.
func InPath(path string, fn func() error) error {
	ns, err := netns.GetFromPath(path)
	if err != nil {
		return fmt.Errorf("opening network namespace %s: %w", path, err)
	}
	defer func() { _ = ns.Close() }() // a namespace handle: closing only drops the reference
	return In(ns, fn)
}
