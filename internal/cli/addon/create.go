package addon

import (
	"github.com/spf13/cobra"

	"github.com/cellplane/cellplane/internal/cli/clikit"
	"github.com/cellplane/cellplane/internal/eks"
)

func newCreate(g *clikit.Globals) *cobra.Command {
	var in eks.CreateAddonInput
	cmd := &cobra.Command{
		Use:   "create CLUSTER ADDON",
		Short: "Install a managed add-on (coredns, kube-proxy) on a cluster",
		Args:  clusterAndAddon,
		RunE: func(cmd *cobra.Command, args []string) error {
			in.AddonName = args[1]
			c, err := g.Connect()
			if err != nil {
				return err
			}
			a, err := c.CreateAddon(cmd.Context(), args[0], in)
			if err != nil {
				return err
			}
			return show(g, a)
		},
	}
	f := cmd.Flags()
	f.StringVar(&in.AddonVersion, "version", "", "add-on version (default: the default for the cluster's Kubernetes minor; see 'addon versions')")
	f.StringVar(&in.ResolveConflicts, "resolve-conflicts", "", "fields another manager owns: NONE fails, OVERWRITE takes them, PRESERVE keeps them (default NONE)")
	f.StringVar(&in.ConfigurationValues, "configuration-values", "", `configuration as JSON, for example '{"replicaCount":3}'`)
	return cmd
}
