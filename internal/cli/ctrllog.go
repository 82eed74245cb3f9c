package cli

import (
	"io"
	"log/slog"

	ctrllog "sigs.k8s.io/controller-runtime/pkg/log"

	"github.com/cellplane/cellplane/internal/logging"
)

// setControllerRuntimeLogger gives controller-runtime's global logger a sink
// before anything can log through it. Passing a logger to a manager is not
// enough: controller-runtime's informer cache runs every informer with a context
// holding a child of the global (pkg/cache/internal/informers.go), and client-go's
// reflectors log through it. The first such call 30 s or more after the process
// started, in a process that never called SetLogger, prints "log.SetLogger(...)
// was never called" with a stack trace (pkg/log/log.go, eventuallyFulfillRoot):
// a cell's process, for one, did when its first cluster's informers started.
//
// Only warnings and errors pass, as with the managers' loggers (logging.Quiet):
// the info logs of controller-runtime and client-go describe their machinery,
// not the user's clusters. controller-runtime keeps the first logger it is given.
func setControllerRuntimeLogger(w io.Writer) {
	ctrllog.SetLogger(logging.Quiet(slog.New(slog.NewTextHandler(w, nil))))
}
