package cli

import (
	"log/slog"

	"github.com/spf13/cobra"

	"github.com/cellplane/cellplane/internal/nodes/machine"
)

// newNodeMachine is the process a cell runs for each real node: it runs
// the machine the file describes until stopped.
func newNodeMachine(g *globals) *cobra.Command {
	var config string
	cmd := &cobra.Command{
		Use: "node-machine --config FILE", Short: "Run a real node of a node group (started by the cell)", Hidden: true, Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return machine.RunFromFile(cmd.Context(), config, slog.New(slog.NewTextHandler(g.Stderr, nil)))
		},
	}
	cmd.Flags().StringVar(&config, "config", "", "the machine's JSON configuration")
	_ = cmd.MarkFlagRequired("config")
	return cmd
}
