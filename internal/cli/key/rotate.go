package key

import (
	"github.com/spf13/cobra"

	"github.com/cellplane/cellplane/internal/cli/clikit"
)

func newRotate(g *clikit.Globals) *cobra.Command {
	return &cobra.Command{
		Use:   "rotate KEY",
		Short: "Rotate a key on demand: its clusters reseal every Secret under the new generation and drop the old one",
		Args:  keyArg,
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := g.Connect()
			if err != nil {
				return err
			}
			if err := c.RotateKeyOnDemand(cmd.Context(), args[0]); err != nil {
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
