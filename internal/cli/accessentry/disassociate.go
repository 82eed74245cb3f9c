package accessentry

import (
	"github.com/spf13/cobra"

	"github.com/cellplane/cellplane/internal/cli/clikit"
)

func newDisassociate(g *clikit.Globals) *cobra.Command {
	var policy string
	cmd := &cobra.Command{
		Use:   "disassociate CLUSTER PRINCIPAL_ARN --policy POLICY",
		Short: "Take an access policy from an entry",
		Args:  clusterAndPrincipal,
		RunE: func(cmd *cobra.Command, args []string) error {
			if policy == "" {
				return clikit.Usagef("--policy is required: a policy name (AmazonEKSViewPolicy) or ARN")
			}
			c, err := g.Connect()
			if err != nil {
				return err
			}
			if err := c.DisassociateAccessPolicy(cmd.Context(), args[0], args[1], policyARN(policy)); err != nil {
				return err
			}
			if g.Output == "json" {
				return g.PrintJSON(map[string]any{})
			}
			g.Printf("disassociated %s from the access entry of %s\n", policyARN(policy), args[1])
			return nil
		},
	}
	cmd.Flags().StringVar(&policy, "policy", "", "access policy name (AmazonEKSViewPolicy) or ARN")
	return cmd
}
