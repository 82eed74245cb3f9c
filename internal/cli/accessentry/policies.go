package accessentry

import (
	"github.com/spf13/cobra"

	"github.com/cellplane/cellplane/internal/cli/clikit"
)

func newPolicies(g *clikit.Globals) *cobra.Command {
	return &cobra.Command{
		Use:   "policies",
		Short: "List the access policies an entry can be granted",
		Args:  clikit.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := g.Connect()
			if err != nil {
				return err
			}
			pols, err := c.ListAccessPolicies(cmd.Context())
			if err != nil {
				return err
			}
			if g.Output == "json" {
				return g.PrintJSON(map[string]any{"accessPolicies": pols})
			}
			for _, p := range pols {
				g.Printf("%-28s  %s\n", p.Name, p.Arn)
			}
			return nil
		},
	}
}
