package addon

import (
	"github.com/spf13/cobra"

	"github.com/cellplane/cellplane/internal/cli/clikit"
)

func newList(g *clikit.Globals) *cobra.Command {
	return &cobra.Command{
		Use:   "list CLUSTER",
		Short: "List a cluster's add-ons",
		Args:  clikit.ExactlyOne("cluster name"),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := g.Connect()
			if err != nil {
				return err
			}
			names, err := c.ListAddons(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			if g.Output == "json" {
				return g.PrintJSON(map[string]any{"addons": names})
			}
			for _, n := range names {
				g.Printf("%s\n", n)
			}
			return nil
		},
	}
}
