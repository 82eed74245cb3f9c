package cli

import (
	"fmt"
	"os"
	"testing"
)

// The test binary doubles as cellplane where a test needs a fresh process; the
// variable selects what to run.
const helperEnv = "CELLPLANE_CLI_TEST_HELPER"

func TestMain(m *testing.M) {
	switch os.Getenv(helperEnv) {
	case "":
		os.Exit(m.Run())
	case "ctrllog":
		os.Exit(ctrllogHelper())
	}
	fmt.Fprintln(os.Stderr, "unknown helper", os.Getenv(helperEnv))
	os.Exit(2)
}
