package addon

import (
	"github.com/spf13/cobra"

	"github.com/cellplane/cellplane/internal/cli/clikit"
)

func newDelete(g *clikit.Globals) *cobra.Command {
	var preserve bool
	cmd := &cobra.Command{
		Use:   "delete CLUSTER ADDON",
		Short: "Delete an add-on and its objects in the cluster (--preserve leaves them running)",
		Args:  clusterAndAddon,
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := g.Connect()
			if err != nil {
				return err
			}
			a, err := c.DeleteAddon(cmd.Context(), args[0], args[1], preserve)
			if err != nil {
				return err
			}
			return show(g, a)
		},
	}
	cmd.Flags().BoolVar(&preserve, "preserve", false, "keep the add-on's objects in the cluster, no longer managed")
	return cmd
}
