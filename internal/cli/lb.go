package cli

import (
	"log/slog"

	"github.com/spf13/cobra"

	"github.com/cellplane/cellplane/internal/lb"
)

// newLB is the cell load balancer's entry point; cellplane launches it as its own
// process, so users never need to.
func newLB(g *globals) *cobra.Command {
	var cfg lb.Config
	cmd := &cobra.Command{
		Use:    "lb",
		Short:  "Run a cell's load balancer (started by cellplane up)",
		Hidden: true,
		Args:   noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg.Logger = slog.New(slog.NewTextHandler(g.stderr, nil))
			return lb.Run(cmd.Context(), cfg)
		},
	}
	cmd.Flags().StringVar(&cfg.ConfigDir, "config-dir", "", "directory of endpoint files")
	cmd.Flags().StringVar(&cfg.StatusAddr, "status-addr", "", "address serving /status and /healthz")
	_ = cmd.MarkFlagRequired("config-dir")
	return cmd
}
