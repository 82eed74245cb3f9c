package accessentry

import (
	"github.com/spf13/cobra"

	"github.com/cellplane/cellplane/internal/cli/clikit"
	"github.com/cellplane/cellplane/internal/eks"
)

func newAssociate(g *clikit.Globals) *cobra.Command {
	var policy string
	var namespaces []string
	cmd := &cobra.Command{
		Use:   "associate CLUSTER PRINCIPAL_ARN --policy POLICY [--namespace NS ...]",
		Short: "Grant an entry an access policy, cluster-wide or in the given namespaces",
		Args:  clusterAndPrincipal,
		RunE: func(cmd *cobra.Command, args []string) error {
			if policy == "" {
				return clikit.Usagef("--policy is required: a policy name (AmazonEKSViewPolicy) or ARN; see 'access-entry policies'")
			}
			scope := eks.AccessScope{Type: "cluster"}
			if len(namespaces) > 0 {
				scope = eks.AccessScope{Type: "namespace", Namespaces: namespaces}
			}
			c, err := g.Connect()
			if err != nil {
				return err
			}
			p, err := c.AssociateAccessPolicy(cmd.Context(), args[0], args[1], policyARN(policy), scope)
			if err != nil {
				return err
			}
			if g.Output == "json" {
				return g.PrintJSON(map[string]any{"clusterName": args[0], "principalArn": args[1], "associatedAccessPolicy": p})
			}
			g.Printf("%s  %s\n", p.PolicyArn, scopeText(p.AccessScope))
			return nil
		},
	}
	cmd.Flags().StringVar(&policy, "policy", "", "access policy name (AmazonEKSViewPolicy) or ARN")
	cmd.Flags().StringArrayVar(&namespaces, "namespace", nil, "namespace the policy applies in (repeatable; a trailing * matches a prefix); none means the whole cluster")
	return cmd
}
