package process

import (
	"os/exec"

	"github.com/cellplane/cellplane/internal/runtime/nsthread"
)

// startIn starts cmd in the network namespace at path ("" = ours). A child
// inherits the namespace of the thread that forks it.
func startIn(path string, cmd *exec.Cmd) error {
	if path == "" {
		return cmd.Start()
	}
	return nsthread.InPath(path, cmd.Start)
}
