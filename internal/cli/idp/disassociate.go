package idp

import (
	"github.com/spf13/cobra"

	"github.com/cellplane/cellplane/internal/cli/clikit"
)

func newIDPDisassociate(g *clikit.Globals) *cobra.Command {
	var token string
	var wait bool
	cmd := &cobra.Command{
		Use:   "disassociate CLUSTER NAME",
		Short: "Stop accepting an identity provider's tokens, without restarting the API servers",
		Args:  clusterAndName,
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := g.Connect()
			if err != nil {
				return err
			}
			u, err := c.DisassociateIdentityProviderConfig(cmd.Context(), args[0], args[1], token)
			if err != nil {
				return err
			}
			if g.Output == "json" {
				if err := g.PrintJSON(map[string]any{"update": u}); err != nil {
					return err
				}
			} else {
				g.Note("disassociating identity provider %s from cluster %s (update %s, %s)\n", args[1], args[0], u.ID, u.Status)
			}
			if !wait {
				return nil
			}
			return waitIDP(cmd.Context(), g, c, args[0], args[1], func(_ string, gone bool) bool { return gone })
		},
	}
	cmd.Flags().StringVar(&token, "client-request-token", "", "idempotency token: a retry with the same token returns the same update")
	cmd.Flags().BoolVar(&wait, "wait", false, "wait until no API server accepts the provider's tokens any more")
	return cmd
}
