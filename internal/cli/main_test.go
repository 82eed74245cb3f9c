package cli

import (
	"fmt"
	"os"
	"testing"

	"github.com/cellplane/cellplane/internal/store/storetest"
)

// The test binary doubles as cellplane where a test needs a fresh process; the
// variable selects what to run.
const helperEnv = "CELLPLANE_CLI_TEST_HELPER"

// The package's tests share one real management store (cluster_test.go's env).
func TestMain(m *testing.M) {
	switch os.Getenv(helperEnv) {
	case "":
		os.Exit(storetest.Run(m, &env))
	case "ctrllog":
		os.Exit(ctrllogHelper())
	}
	fmt.Fprintln(os.Stderr, "unknown helper", os.Getenv(helperEnv))
	os.Exit(2)
}
