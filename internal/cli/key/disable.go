package key

import (
	"github.com/spf13/cobra"

	"github.com/cellplane/cellplane/internal/cli/clikit"
)

func newDisable(g *clikit.Globals) *cobra.Command {
	return &cobra.Command{
		Use:   "disable KEY",
		Short: "Disable a key: its clusters report KmsKeyDisabled, Secret writes fail within minutes, and nothing is readable once their API servers restart",
		Args:  keyArg,
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := g.Connect()
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
			return show(g, k)
		},
	}
}
