package cli

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/spf13/cobra"
	ctrllog "sigs.k8s.io/controller-runtime/pkg/log"
)

// cacheLog is derived from controller-runtime's global at start-up, as its
// packages derive theirs (the informer cache's included), long before any
// command runs.
var cacheLog = ctrllog.Log.WithName("cache")

// ctrllogHelper runs a subcommand through Main, in a process of its own so that
// no earlier test could have set controller-runtime's logger, then logs through
// the global the way an informer does.
func ctrllogHelper() int {
	code := Main([]string{"version"})
	cacheLog.Error(errors.New("boom"), "an error through the global")
	cacheLog.Info("an info through the global")
	return code
}

// TestControllerRuntimeLoggerIsSet: after any subcommand started, what is logged
// through controller-runtime's global reaches our stderr, errors only, so its
// "log.SetLogger(...) was never called" warning can no longer come.
func TestControllerRuntimeLoggerIsSet(t *testing.T) {
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(exe, "-test.run=^$")
	cmd.Env = append(os.Environ(), helperEnv+"=ctrllog")
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("helper: %v\n%s", err, stderr.String())
	}
	out := stderr.String()
	if !strings.Contains(out, "level=ERROR") || !strings.Contains(out, `msg="an error through the global"`) ||
		!strings.Contains(out, "logger=cache") || !strings.Contains(out, "err=boom") {
		t.Errorf("the error logged through controller-runtime's global did not reach stderr:\n%s", out)
	}
	if strings.Contains(out, "an info through the global") || strings.Contains(out, "was never called") {
		t.Errorf("stderr holds controller-runtime's info or its warning:\n%s", out)
	}
	if !strings.Contains(stdout.String(), "cellplane ") {
		t.Errorf("version printed %q", stdout.String())
	}
}

// TestNoSubcommandReplacesThePreRun: cobra runs only the nearest persistent
// pre-run, so a subcommand with its own would skip the root's and leave
// controller-runtime's logger unset in that command.
func TestNoSubcommandReplacesThePreRun(t *testing.T) {
	root := newRoot(&globals{})
	if root.PersistentPreRun == nil {
		t.Fatal("the root has no persistent pre-run")
	}
	var walk func(*cobra.Command)
	walk = func(c *cobra.Command) {
		for _, sub := range c.Commands() {
			if sub.PersistentPreRun != nil || sub.PersistentPreRunE != nil {
				t.Errorf("%s has a persistent pre-run of its own", sub.CommandPath())
			}
			walk(sub)
		}
	}
	walk(root)
}
