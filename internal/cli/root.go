package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"

	"github.com/spf13/cobra"
)

// globals are the flags every subcommand shares.
type globals struct {
	dataDir string
	output  string
	stdin   io.Reader
	stdout  io.Writer
	stderr  io.Writer
	// outErr is the first error writing the command's result (see output.go).
	outErr error
}

// Main runs the command line and returns the process exit code.
func Main(args []string) int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	g := &globals{stdin: os.Stdin, stdout: os.Stdout, stderr: os.Stderr}
	root := newRoot(g)
	root.SetArgs(args)
	err := root.ExecuteContext(ctx)
	if err == nil && g.outErr != nil {
		err = fmt.Errorf("writing the output: %w", g.outErr)
	}
	if err != nil {
		g.note("error: %s\n", userMessage(err))
		return exitCode(err)
	}
	return 0
}

func newRoot(g *globals) *cobra.Command {
	root := &cobra.Command{
		Use:           "cellplane",
		Short:         "Run and use a managed Kubernetes control-plane service",
		SilenceUsage:  true,
		SilenceErrors: true,
		// Every subcommand runs this (none has a pre-run of its own), cell run
		// and up included; see setControllerRuntimeLogger.
		PersistentPreRun: func(*cobra.Command, []string) { setControllerRuntimeLogger(g.stderr) },
	}
	root.PersistentFlags().StringVar(&g.dataDir, "data-dir", defaultDataDir(),
		"directory holding all of cellplane's state (env CELLPLANE_DATA_DIR)")
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usageError{err} })
	root.AddCommand(newUp(g), newDown(g), newCluster(g), newAccount(g), newCell(g), newZone(g), newBackup(g), newKey(g), newComponents(g), newLB(g), newKMSPlugin(g), newVersion(g))
	asGroup(root)
	return root
}

// asGroup makes a command that only holds subcommands print its help when called
// bare and reject anything else as a usage error.
func asGroup(cmd *cobra.Command) {
	cmd.Args = func(c *cobra.Command, args []string) error {
		if len(args) > 0 {
			return usagef("unknown command %q for %q; see '%s --help'", args[0], c.CommandPath(), c.CommandPath())
		}
		return nil
	}
	cmd.RunE = func(c *cobra.Command, _ []string) error { return c.Help() }
}

// noArgs rejects positional arguments as a usage error.
func noArgs(c *cobra.Command, args []string) error {
	if len(args) > 0 {
		return usagef("%s takes no arguments, got %q", c.CommandPath(), args)
	}
	return nil
}

func defaultDataDir() string {
	if d := os.Getenv("CELLPLANE_DATA_DIR"); d != "" {
		return d
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return ".cellplane"
	}
	return filepath.Join(home, ".cellplane")
}

// usageError marks errors in how the command was called (exit code 2).
type usageError struct{ error }

func usagef(format string, a ...any) error { return usageError{fmt.Errorf(format, a...)} }

func exitCode(err error) int {
	var u usageError
	if errors.As(err, &u) {
		return 2
	}
	return 1
}
