package accessentry

import (
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/cellplane/cellplane/internal/accesspolicy"
	"github.com/cellplane/cellplane/internal/cli/clikit"
	"github.com/cellplane/cellplane/internal/eks"
)

// New is the access-entry command group.
func New(g *clikit.Globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "access-entry",
		Short: "Manage who may sign in to a cluster, and what they may do there (EKS access entries)",
	}
	cmd.PersistentFlags().StringVarP(&g.Output, "output", "o", "table", "output format: table or json")
	cmd.AddCommand(newCreate(g), newList(g), newDescribe(g), newDelete(g), newAssociate(g), newDisassociate(g), newPolicies(g))
	clikit.AsGroup(cmd)
	return cmd
}

// clusterAndPrincipal accepts a cluster name and a principal ARN.
func clusterAndPrincipal(cmd *cobra.Command, args []string) error {
	if len(args) != 2 {
		return clikit.Usagef("%s needs a cluster name and a principal ARN, got %d arguments", cmd.CommandPath(), len(args))
	}
	return nil
}

// policyARN accepts a policy's ARN or its name (AmazonEKSViewPolicy).
func policyARN(p string) string {
	if strings.HasPrefix(p, "arn:") {
		return p
	}
	return accesspolicy.ARNPrefix + p
}

// show prints one entry as a table row or as EKS's accessEntry.
func show(g *clikit.Globals, e *eks.AccessEntry) error {
	if g.Output == "json" {
		return g.PrintJSON(map[string]any{"accessEntry": e})
	}
	g.Printf("%s  username=%s  groups=%s  type=%s\n", e.PrincipalArn, e.Username, strings.Join(e.KubernetesGroups, ","), e.Type)
	return nil
}

// scopeText renders a policy's scope for a table.
func scopeText(s eks.AccessScope) string {
	if s.Type == "namespace" {
		return fmt.Sprintf("namespace(%s)", strings.Join(s.Namespaces, ","))
	}
	return s.Type
}
