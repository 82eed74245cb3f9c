package nodegroup

import (
	"errors"

	"github.com/spf13/cobra"

	"github.com/cellplane/cellplane/internal/cli/clikit"
	"github.com/cellplane/cellplane/internal/eks"
	"github.com/cellplane/cellplane/internal/errdefs"
)

func newDelete(g *clikit.Globals) *cobra.Command {
	var wait bool
	cmd := &cobra.Command{
		Use:   "delete CLUSTER NAME",
		Short: "Delete a node group: its nodes stop and their Nodes go",
		Args:  clusterAndName,
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := g.Connect()
			if err != nil {
				return err
			}
			ng, err := c.DeleteNodegroup(cmd.Context(), args[0], args[1])
			if err != nil {
				return err
			}
			if wait {
				err := waitFor(cmd.Context(), g, c, args[0], args[1], func(_ *eks.Nodegroup, err error) (bool, error) {
					return errors.Is(err, errdefs.ErrNotFound), nil
				})
				if err != nil {
					return err
				}
				ng.Status = "DELETED"
			}
			return show(g, ng)
		},
	}
	cmd.Flags().BoolVar(&wait, "wait", false, "wait until the group is gone")
	return cmd
}
