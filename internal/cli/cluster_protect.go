package cli

import (
	"github.com/spf13/cobra"

	"github.com/cellplane/cellplane/internal/client"
)

func newClusterProtect(g *globals) *cobra.Command {
	var off bool
	var token string
	cmd := &cobra.Command{
		Use:   "protect NAME",
		Short: "Turn deletion protection on (or off with --off): a protected ACTIVE cluster cannot be deleted",
		Args:  nameArg,
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := g.Connect()
			if err != nil {
				return err
			}
			on := !off
			u, err := c.UpdateClusterConfig(cmd.Context(), args[0], client.UpdateClusterConfigInput{DeletionProtection: &on, ClientRequestToken: token})
			if err != nil {
				return err
			}
			if g.Output == "json" {
				return g.PrintJSON(map[string]any{"update": u})
			}
			g.Printf("deletion protection of cluster %s is %s (update %s, %s)\n", args[0], onOff(on), u.ID, u.Status)
			return nil
		},
	}
	cmd.Flags().BoolVar(&off, "off", false, "turn deletion protection off, so the cluster can be deleted")
	cmd.Flags().StringVar(&token, "client-request-token", "", "idempotency token: a retry with the same token returns the same update")
	return cmd
}
