package key

import (
	"github.com/spf13/cobra"

	"github.com/cellplane/cellplane/internal/cli/clikit"
)

func newDescribe(g *clikit.Globals) *cobra.Command {
	return &cobra.Command{
		Use:   "describe KEY",
		Short: "Show a key, named by its ID or ARN",
		Args:  keyArg,
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := g.Connect()
			if err != nil {
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
