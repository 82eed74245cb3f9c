package addon

import (
	"github.com/spf13/cobra"

	"github.com/cellplane/cellplane/internal/cli/clikit"
)

func newDescribe(g *clikit.Globals) *cobra.Command {
	return &cobra.Command{
		Use:   "describe CLUSTER ADDON",
		Short: "Show an add-on: version, status and health issues",
		Args:  clusterAndAddon,
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := g.Connect()
			if err != nil {
				return err
			}
			a, err := c.DescribeAddon(cmd.Context(), args[0], args[1])
			if err != nil {
				return err
			}
			return show(g, a)
		},
	}
}
