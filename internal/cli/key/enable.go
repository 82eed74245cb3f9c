package key

import (
	"github.com/spf13/cobra"

	"github.com/cellplane/cellplane/internal/cli/clikit"
)

func newEnable(g *clikit.Globals) *cobra.Command {
	return &cobra.Command{
		Use:   "enable KEY",
		Short: "Enable a key again: its clusters read and write their Secrets again",
		Args:  keyArg,
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := g.Connect()
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
			return show(g, k)
		},
	}
}
