package cli

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/cellplane/cellplane/internal/cli/accessentry"
	"github.com/cellplane/cellplane/internal/cli/addon"
	"github.com/cellplane/cellplane/internal/cli/clikit"
	"github.com/cellplane/cellplane/internal/cli/componentscmd"
	"github.com/cellplane/cellplane/internal/cli/key"
	"github.com/cellplane/cellplane/internal/cli/nodegroup"
	"github.com/cellplane/cellplane/internal/cli/principal"
	"github.com/cellplane/cellplane/internal/cli/rollout"
)

// globals are the flags and streams every subcommand shares (clikit.Globals),
// under a local name so this package's commands can hang helpers off it.
type globals struct{ clikit.Globals }

// Main runs the command line and returns the process exit code.
func Main(args []string) int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	g := &globals{clikit.Globals{Stdin: os.Stdin, Stdout: os.Stdout, Stderr: os.Stderr}}
	root := newRoot(g)
	root.SetArgs(args)
	err := root.ExecuteContext(ctx)
	if err == nil && g.OutErr() != nil {
		err = fmt.Errorf("writing the output: %w", g.OutErr())
	}
	if err != nil {
		g.Note("error: %s\n", clikit.UserMessage(err))
		return clikit.ExitCode(err)
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
		PersistentPreRun: func(*cobra.Command, []string) { setControllerRuntimeLogger(g.Stderr) },
	}
	root.PersistentFlags().StringVar(&g.DataDir, "data-dir", defaultDataDir(),
		"directory holding all of cellplane's state (env CELLPLANE_DATA_DIR)")
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return clikit.Usage(err) })
	root.AddCommand(newUp(g), newDown(g), newCluster(g), newAccount(g), newCell(g), newZone(g), newBackup(g), key.New(&g.Globals),
		principal.NewUser(&g.Globals), principal.NewRole(&g.Globals), accessentry.New(&g.Globals), addon.New(&g.Globals), nodegroup.New(&g.Globals), rollout.New(&g.Globals),
		componentscmd.New(&g.Globals), newLB(g), newKMSPlugin(g), newHollowNode(), newNodeMachine(g), newClusterNetwork(g), newVersion(g))
	clikit.AsGroup(root)
	return root
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
