package cli

import (
	"log/slog"

	"github.com/spf13/cobra"

	"github.com/cellplane/cellplane/internal/nodes/clusternet"
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

// newClusterNetwork is the process a cell runs for each cluster with real
// nodes: it serves the cluster network until stopped.
func newClusterNetwork(g *globals) *cobra.Command {
	var c clusternet.Config
	cmd := &cobra.Command{
		Use: "cluster-network --name KEY --upstream ADDRESS", Short: "Serve a cluster's network for its real nodes (started by the cell)", Hidden: true, Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c.Log = slog.New(slog.NewTextHandler(g.Stderr, nil))
			return clusternet.Run(cmd.Context(), c)
		},
	}
	cmd.Flags().StringVar(&c.Name, "name", "", "the cluster's key, which names its network")
	cmd.Flags().StringVar(&c.Upstream, "upstream", "", "host:port of the cluster's endpoint")
	_ = cmd.MarkFlagRequired("name")
	_ = cmd.MarkFlagRequired("upstream")
	return cmd
}
