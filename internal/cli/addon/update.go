package addon

import (
	"github.com/spf13/cobra"

	"github.com/cellplane/cellplane/internal/cli/clikit"
	"github.com/cellplane/cellplane/internal/eks"
)

func newUpdate(g *clikit.Globals) *cobra.Command {
	var in eks.UpdateAddonInput
	var values string
	cmd := &cobra.Command{
		Use:   "update CLUSTER ADDON",
		Short: "Change an add-on's version, configuration or conflict resolution, as an update; 'addon describe' shows its outcome",
		Args:  clusterAndAddon,
		RunE: func(cmd *cobra.Command, args []string) error {
			if cmd.Flags().Changed("configuration-values") {
				in.ConfigurationValues = &values
			}
			c, err := g.Connect()
			if err != nil {
				return err
			}
			u, err := c.UpdateAddon(cmd.Context(), args[0], args[1], in)
			if err != nil {
				return err
			}
			if g.Output == "json" {
				return g.PrintJSON(map[string]any{"update": u})
			}
			g.Printf("update %s %s\n", u.ID, u.Status)
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&in.AddonVersion, "version", "", "new add-on version (default: keep)")
	f.StringVar(&in.ResolveConflicts, "resolve-conflicts", "", "fields another manager owns: NONE fails, OVERWRITE takes them, PRESERVE keeps them (default NONE)")
	f.StringVar(&values, "configuration-values", "", `new configuration as JSON; "" resets it (default: keep)`)
	return cmd
}
