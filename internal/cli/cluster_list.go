package cli

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/cellplane/cellplane/internal/cli/clikit"
	"github.com/cellplane/cellplane/internal/eks"
)

func newClusterList(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "list",
		Short: "List clusters with their status",
		Args:  clikit.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := g.Connect()
			if err != nil {
				return err
			}
			names, err := c.ListAllClusters(cmd.Context())
			if err != nil {
				return err
			}
			var clusters []*eks.Cluster
			for _, n := range names {
				cl, err := c.DescribeCluster(cmd.Context(), n)
				if err != nil {
					return err
				}
				clusters = append(clusters, cl)
			}
			if g.Output == "json" {
				return g.PrintJSON(map[string]any{"clusters": clusters})
			}
			w := g.Table()
			w.Println("NAME\tVERSION\tSTATUS\tENDPOINT\tAGE")
			for _, cl := range clusters {
				w.Printf("%s\t%s\t%s\t%s\t%s\n", cl.Name, cl.Version, listStatus(cl), cl.Endpoint, age(cl))
			}
			return w.Flush()
		},
	}
}

// listStatus is the cluster's status, with its place in the cell's queue
// while it waits to start: "CREATING (queued 2)".
func listStatus(cl *eks.Cluster) string {
	if x := cl.Cellplane; x != nil && x.BringUp != nil && x.BringUp.QueuePosition > 0 {
		return fmt.Sprintf("%s (queued %d)", cl.Status, x.BringUp.QueuePosition)
	}
	return cl.Status
}
