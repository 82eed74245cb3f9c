package accessentry

import (
	"github.com/spf13/cobra"

	"github.com/cellplane/cellplane/internal/cli/clikit"
)

func newDelete(g *clikit.Globals) *cobra.Command {
	return &cobra.Command{
		Use:   "delete CLUSTER PRINCIPAL_ARN",
		Short: "Delete an access entry: the principal can no longer sign in to the cluster",
		Args:  clusterAndPrincipal,
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := g.Connect()
			if err != nil {
				return err
			}
			if err := c.DeleteAccessEntry(cmd.Context(), args[0], args[1]); err != nil {
				return err
			}
			if g.Output == "json" {
				return g.PrintJSON(map[string]any{})
			}
			g.Printf("deleted the access entry of %s on cluster %s\n", args[1], args[0])
			return nil
		},
	}
}
