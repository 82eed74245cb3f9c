package accessentry

import (
	"github.com/spf13/cobra"

	"github.com/cellplane/cellplane/internal/cli/clikit"
)

func newDescribe(g *clikit.Globals) *cobra.Command {
	return &cobra.Command{
		Use:   "describe CLUSTER PRINCIPAL_ARN",
		Short: "Show an access entry and its access policies",
		Args:  clusterAndPrincipal,
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := g.Connect()
			if err != nil {
				return err
			}
			e, err := c.DescribeAccessEntry(cmd.Context(), args[0], args[1])
			if err != nil {
				return err
			}
			pols, err := c.ListAssociatedAccessPolicies(cmd.Context(), args[0], args[1])
			if err != nil {
				return err
			}
			if g.Output == "json" {
				return g.PrintJSON(map[string]any{"accessEntry": e, "associatedAccessPolicies": pols})
			}
			if err := show(g, e); err != nil {
				return err
			}
			for _, p := range pols {
				g.Printf("  %s  %s\n", p.PolicyArn, scopeText(p.AccessScope))
			}
			return nil
		},
	}
}
