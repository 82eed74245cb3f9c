package cli

import (
	"strconv"

	"github.com/spf13/cobra"

	"github.com/cellplane/cellplane/internal/cli/clikit"
	"github.com/cellplane/cellplane/internal/quota"
)

func newAccountLimit(g *globals) *cobra.Command {
	var maxClusters string
	cmd := &cobra.Command{
		Use:   "limit ID",
		Short: "Show or set how many clusters an account may have (default 100, as on EKS)",
		Args:  clikit.ExactlyOne("account ID"),
		RunE: func(cmd *cobra.Command, args []string) error {
			var n *int
			if maxClusters != "" && maxClusters != "default" {
				v, err := strconv.Atoi(maxClusters)
				if err != nil || v < 0 || v > quota.MaxClustersLimit {
					return clikit.Usagef("--max-clusters wants a whole number from 0 to %d, or default; got %q", quota.MaxClustersLimit, maxClusters)
				}
				n = &v
			}
			a, err := g.accounts()
			if err != nil {
				return err
			}
			if maxClusters != "" {
				if err := a.SetMaxClusters(cmd.Context(), args[0], n); err != nil {
					return err
				}
			}
			limit, err := a.MaxClusters(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			if g.Output == "json" {
				return g.PrintJSON(map[string]any{"limit": limit})
			}
			source := "the default"
			if limit.Override {
				source = "set by the operator"
			}
			g.Printf("account %s may have %d clusters (%s)\n", limit.Account, limit.MaxClusters, source)
			return nil
		},
	}
	cmd.Flags().StringVar(&maxClusters, "max-clusters", "", "set the limit (0 to 100000), or 'default' to return to the default; clusters beyond a lowered limit keep running")
	return cmd
}
