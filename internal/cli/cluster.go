package cli

import (
	"github.com/spf13/cobra"

	"github.com/cellplane/cellplane/internal/cli/clikit"
	"github.com/cellplane/cellplane/internal/cli/idp"
	"github.com/cellplane/cellplane/internal/cli/insights"
	"github.com/cellplane/cellplane/internal/cli/upgradecmd"
)

func newCluster(g *globals) *cobra.Command {
	cmd := &cobra.Command{Use: "cluster", Short: "Create, inspect and delete Kubernetes control planes"}
	cmd.PersistentFlags().StringVarP(&g.Output, "output", "o", "table", "output format: table or json")
	cmd.AddCommand(newClusterCreate(g), newClusterList(g), newClusterDescribe(g), newClusterDelete(g), newClusterKubeconfig(g), newClusterHealth(g), newClusterRotateKey(g), newClusterProtect(g), newClusterEncrypt(g), insights.New(&g.Globals), idp.New(&g.Globals))
	cmd.AddCommand(upgradecmd.New(&g.Globals)...)
	clikit.AsGroup(cmd)
	return cmd
}

// nameArg accepts exactly one cluster name.
var nameArg = clikit.ExactlyOne("cluster name")
