package cli

import "github.com/spf13/cobra"

func newKeyDescribe(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "describe KEY",
		Short: "Show a key, named by its ID or ARN",
		Args:  keyArg,
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := g.connect()
			if err != nil {
				return err
			}
			k, err := c.DescribeKey(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			return g.showKey(k)
		},
	}
}
