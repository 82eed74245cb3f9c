package bench

import (
	"fmt"
	"os"
	"testing"

	"github.com/cellplane/cellplane/test/framework"
)

var bins framework.Binaries

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "cellplane-bench-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	if bins, err = framework.Build(dir); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.RemoveAll(dir)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}
