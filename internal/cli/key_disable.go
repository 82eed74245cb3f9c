package cli

import "github.com/spf13/cobra"

func newKeyDisable(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "disable KEY",
		Short: "Disable a key: its clusters report KmsKeyDisabled, Secret writes fail within minutes, and nothing is readable once their API servers restart",
		Args:  keyArg,
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := g.connect()
			if err != nil {
				return err
			}
			if err := c.DisableKey(cmd.Context(), args[0]); err != nil {
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
