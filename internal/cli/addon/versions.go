package addon

import (
	"github.com/spf13/cobra"

	"github.com/cellplane/cellplane/internal/cli/clikit"
)

func newVersions(g *clikit.Globals) *cobra.Command {
	var minor, name string
	cmd := &cobra.Command{
		Use:   "versions",
		Short: "List the add-on versions offered, per Kubernetes minor",
		Args:  clikit.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := g.Connect()
			if err != nil {
				return err
			}
			infos, err := c.DescribeAddonVersions(cmd.Context(), minor, name)
			if err != nil {
				return err
			}
			if g.Output == "json" {
				return g.PrintJSON(map[string]any{"addons": infos})
			}
			for _, i := range infos {
				for _, v := range i.AddonVersions {
					for _, compat := range v.Compatibilities {
						def := ""
						if compat.DefaultVersion {
							def = "  (default)"
						}
						g.Printf("%s  %s  kubernetes %s%s\n", i.AddonName, v.AddonVersion, compat.ClusterVersion, def)
					}
				}
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&minor, "kubernetes-version", "", "only versions for this Kubernetes minor (1.35)")
	cmd.Flags().StringVar(&name, "addon", "", "only this add-on")
	return cmd
}
