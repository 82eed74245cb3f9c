package cli

import "github.com/spf13/cobra"

func newKeyEnable(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "enable KEY",
		Short: "Enable a key again: its clusters read and write their Secrets again",
		Args:  keyArg,
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := g.connect()
			if err != nil {
				return err
			}
			if err := c.EnableKey(cmd.Context(), args[0]); err != nil {
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
