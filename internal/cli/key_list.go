package cli

import "github.com/spf13/cobra"

func newKeyList(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "list",
		Short: "List the account's keys",
		Args:  noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := g.connect()
			if err != nil {
				return err
			}
			ids, err := c.ListKeys(cmd.Context())
			if err != nil {
				return err
			}
			if g.output == "json" {
				return g.printJSON(map[string]any{"keys": ids})
			}
			for _, id := range ids {
				k, err := c.DescribeKey(cmd.Context(), id)
				if err != nil {
					return err
				}
				if err := g.showKey(k); err != nil {
					return err
				}
			}
			return nil
		},
	}
}
