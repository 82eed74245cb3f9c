package cli

import (
	"log/slog"
	"os"

	"github.com/spf13/cobra"

	"github.com/cellplane/cellplane/internal/cli/clikit"
	"github.com/cellplane/cellplane/internal/kms/plugin"
)

// newKMSPlugin is the entry point of a tenant cluster's KMS v2 plugin; the
// cell launches one beside each API server, with the cluster's keys in
// $CELLPLANE_KMS_KEYSET, so users never need to.
func newKMSPlugin(g *globals) *cobra.Command {
	var cfg plugin.Config
	cmd := &cobra.Command{
		Use:    "kms-plugin",
		Short:  "Run a tenant cluster's KMS v2 plugin (started by the cell)",
		Hidden: true,
		Args:   clikit.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg.Logger = slog.New(slog.NewTextHandler(g.Stderr, nil))
			if cfg.Disabled = os.Getenv(plugin.DisabledEnv); cfg.Disabled != "" {
				return plugin.Serve(cmd.Context(), cfg)
			}
			keys, err := plugin.DecodeKeyset(os.Getenv(plugin.KeysetEnv))
			if err != nil {
				return err
			}
			cfg.Keys = keys
			return plugin.Serve(cmd.Context(), cfg)
		},
	}
	cmd.Flags().StringVar(&cfg.Socket, "socket", "", "unix socket to serve the KMS v2 API on")
	_ = cmd.MarkFlagRequired("socket")
	return cmd
}
