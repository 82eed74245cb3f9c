package nodegroup

import (
	"github.com/spf13/cobra"

	"github.com/cellplane/cellplane/internal/cli/clikit"
)

func newDescribe(g *clikit.Globals) *cobra.Command {
	return &cobra.Command{
		Use:   "describe CLUSTER NAME",
		Short: "Show a node group: status, size, health issues",
		Args:  clusterAndName,
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := g.Connect()
			if err != nil {
				return err
			}
			ng, err := c.DescribeNodegroup(cmd.Context(), args[0], args[1])
			if err != nil {
				return err
			}
			return show(g, ng)
		},
	}
}
