package cli

import (
	"github.com/spf13/cobra"

	"github.com/cellplane/cellplane/internal/eks"
)

func newClusterList(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "list",
		Short: "List clusters with their status",
		Args:  noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := g.connect()
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
			if g.output == "json" {
				return g.printJSON(map[string]any{"clusters": clusters})
			}
			w := g.table()
			w.println("NAME\tVERSION\tSTATUS\tENDPOINT\tAGE")
			for _, cl := range clusters {
				w.printf("%s\t%s\t%s\t%s\t%s\n", cl.Name, cl.Version, cl.Status, cl.Endpoint, age(cl))
			}
			return w.flush()
		},
	}
}
