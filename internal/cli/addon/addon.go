package addon

import (
	"strings"

	"github.com/spf13/cobra"

	"github.com/cellplane/cellplane/internal/cli/clikit"
	"github.com/cellplane/cellplane/internal/eks"
)

// New is the add-on command group.
func New(g *clikit.Globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "addon",
		Short: "Manage a cluster's managed add-ons, CoreDNS and kube-proxy (EKS add-ons)",
	}
	cmd.PersistentFlags().StringVarP(&g.Output, "output", "o", "table", "output format: table or json")
	cmd.AddCommand(newCreate(g), newList(g), newDescribe(g), newUpdate(g), newDelete(g), newVersions(g))
	clikit.AsGroup(cmd)
	return cmd
}

// clusterAndAddon accepts a cluster name and an add-on name.
func clusterAndAddon(cmd *cobra.Command, args []string) error {
	if len(args) != 2 {
		return clikit.Usagef("%s needs a cluster name and an add-on name, got %d arguments", cmd.CommandPath(), len(args))
	}
	return nil
}

// show prints one add-on as a table row or as EKS's addon.
func show(g *clikit.Globals, a *eks.Addon) error {
	if g.Output == "json" {
		return g.PrintJSON(map[string]any{"addon": a})
	}
	g.Printf("%s  %s  %s\n", a.AddonName, a.AddonVersion, a.Status)
	if a.Health != nil {
		for _, i := range a.Health.Issues {
			g.Printf("  %s: %s %s\n", i.Code, i.Message, strings.Join(i.ResourceIDs, ","))
		}
	}
	return nil
}
