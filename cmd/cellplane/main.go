// Command cellplane runs and drives a cellplane service: `cellplane up` starts the
// regional API and a cell on this machine; the other subcommands talk to it.
package main

import (
	"os"

	"golang.org/x/sys/unix"

	"github.com/cellplane/cellplane/internal/cli"
)

func main() {
	// Descriptors inherited from whoever launched us (a wrapper's pipe, a test
	// runner's output) would otherwise pass on to every component we start and be
	// held open for the life of a tenant's control plane.
	_ = unix.CloseRange(3, ^uint(0), unix.CLOSE_RANGE_CLOEXEC)
	os.Exit(cli.Main(os.Args[1:]))
}
