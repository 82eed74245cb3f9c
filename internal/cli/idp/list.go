package idp

import (
	"github.com/spf13/cobra"

	"github.com/cellplane/cellplane/internal/cli/clikit"
)

func newIDPList(g *clikit.Globals) *cobra.Command {
	return &cobra.Command{
		Use:   "list CLUSTER",
		Short: "List a cluster's identity provider configs",
		Args:  clusterArg,
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := g.Connect()
			if err != nil {
				return err
			}
			names, err := c.ListIdentityProviderConfigs(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			if g.Output == "json" {
				out := []map[string]string{}
				for _, n := range names {
					out = append(out, map[string]string{"type": "oidc", "name": n})
				}
				return g.PrintJSON(map[string]any{"identityProviderConfigs": out})
			}
			for _, n := range names {
				g.Printf("oidc\t%s\n", n)
			}
			return nil
		},
	}
}
