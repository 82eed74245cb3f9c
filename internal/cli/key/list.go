package key

import (
	"github.com/spf13/cobra"

	"github.com/cellplane/cellplane/internal/cli/clikit"
)

func newList(g *clikit.Globals) *cobra.Command {
	return &cobra.Command{
		Use:   "list",
		Short: "List the account's keys",
		Args:  clikit.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := g.Connect()
			if err != nil {
				return err
			}
			ids, err := c.ListKeys(cmd.Context())
			if err != nil {
				return err
			}
			if g.Output == "json" {
				return g.PrintJSON(map[string]any{"keys": ids})
			}
			for _, id := range ids {
				k, err := c.DescribeKey(cmd.Context(), id)
				if err != nil {
					return err
				}
				if err := show(g, k); err != nil {
					return err
				}
			}
			return nil
		},
	}
}
