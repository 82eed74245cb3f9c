package cli

import (
	"log/slog"

	"github.com/spf13/cobra"

	"github.com/cellplane/cellplane/internal/cli/clikit"
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
		Args:   clikit.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg.Logger = slog.New(slog.NewTextHandler(g.Stderr, nil))
			return lb.Run(cmd.Context(), cfg)
		},
	}
	cmd.Flags().StringVar(&cfg.ConfigDir, "config-dir", "", "directory of endpoint files")
	cmd.Flags().StringVar(&cfg.StatusAddr, "status-addr", "", "address serving /status and /healthz, over mutual TLS only (needs the three --status-* files)")
	cmd.Flags().StringVar(&cfg.StatusTLS.CertFile, "status-cert", "", "the status server's certificate (PEM)")
	cmd.Flags().StringVar(&cfg.StatusTLS.KeyFile, "status-key", "", "the status server's private key (PEM)")
	cmd.Flags().StringVar(&cfg.StatusTLS.ClientCAFile, "status-client-ca", "", "the CA that status clients' certificates must chain to (PEM)")
	cmd.Flags().IntVar(&cfg.MaxConnections, "max-connections", lb.DefaultMaxConnections,
		"client connections open on all endpoints together; more are closed at once")
	cmd.Flags().IntVar(&cfg.MaxConnectionsPerEndpoint, "max-connections-per-endpoint", 0,
		"client connections open on one endpoint, at most half of --max-connections (0: 2000 or a tenth of --max-connections, whichever is smaller)")
	cmd.Flags().DurationVar(&cfg.FirstByteTimeout, "first-byte-timeout", lb.DefaultFirstByteTimeout,
		"close a client connection that sends nothing for this long; no backend is dialled before its first bytes")
	_ = cmd.MarkFlagRequired("config-dir")
	return cmd
}
