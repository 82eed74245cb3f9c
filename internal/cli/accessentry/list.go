package accessentry

import (
	"github.com/spf13/cobra"

	"github.com/cellplane/cellplane/internal/cli/clikit"
)

func newList(g *clikit.Globals) *cobra.Command {
	var policy string
	cmd := &cobra.Command{
		Use:   "list CLUSTER",
		Short: "List the principals with an access entry on a cluster",
		Args:  clikit.ExactlyOne("cluster name"),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := g.Connect()
			if err != nil {
				return err
			}
			if policy != "" {
				policy = policyARN(policy)
			}
			arns, err := c.ListAccessEntries(cmd.Context(), args[0], policy)
			if err != nil {
				return err
			}
			if g.Output == "json" {
				return g.PrintJSON(map[string]any{"accessEntries": arns})
			}
			for _, a := range arns {
				g.Printf("%s\n", a)
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&policy, "policy", "", "only entries with this access policy (name or ARN)")
	return cmd
}
