package cli

import (
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/cellplane/cellplane/internal/cli/clikit"
)

func newBackupCreate(g *globals, f *backupFlags) *cobra.Command {
	var wait bool
	var timeout time.Duration
	cmd := &cobra.Command{
		Use:   "create CLUSTER",
		Short: "Take a full backup of a cluster now, besides the scheduled ones",
		Long: `Ask the cell that runs the cluster for a full snapshot now. Backups are also taken
continuously: a full snapshot every hour and incrementals every two seconds. With
--wait the command returns once the full is stored and verified.`,
		Args: clikit.ExactlyOne("cluster name"),
		RunE: func(cmd *cobra.Command, args []string) error {
			b, err := g.backups()
			if err != nil {
				return err
			}
			at, err := b.Request(cmd.Context(), f.account, args[0])
			if err != nil {
				return err
			}
			g.Note("full backup of %s requested\n", args[0])
			if !wait {
				return nil
			}
			ctx, cancel := contextWithTimeout(cmd, timeout)
			defer cancel()
			for {
				st, err := b.Status(ctx, f.account, args[0])
				if err != nil {
					return err
				}
				if st != nil && st.LastFullTime != nil && st.LastFullTime.After(at) {
					if g.Output == "json" {
						return g.PrintJSON(map[string]any{"backup": st})
					}
					g.Printf("full backup of %s at revision %d, %d bytes, stored %s\n", args[0], st.LastFullRevision, st.LastFullBytes, st.LastFullTime.UTC().Format(time.RFC3339))
					return nil
				}
				select {
				case <-ctx.Done():
					return fmt.Errorf("waiting for the backup of %s: %w", args[0], ctx.Err())
				case <-time.After(500 * time.Millisecond):
				}
			}
		},
	}
	cmd.Flags().BoolVar(&wait, "wait", false, "wait until the full backup is stored and verified")
	cmd.Flags().DurationVar(&timeout, "timeout", 10*time.Minute, "how long --wait waits")
	return cmd
}
