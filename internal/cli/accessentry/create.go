package accessentry

import (
	"strings"

	"github.com/spf13/cobra"

	"github.com/cellplane/cellplane/internal/cli/clikit"
	"github.com/cellplane/cellplane/internal/eks"
)

func newCreate(g *clikit.Globals) *cobra.Command {
	var in eks.CreateAccessEntryInput
	var tags []string
	cmd := &cobra.Command{
		Use:   "create CLUSTER PRINCIPAL_ARN",
		Short: "Let an IAM user or role sign in to a cluster; grant it policies with 'associate'",
		Args:  clusterAndPrincipal,
		RunE: func(cmd *cobra.Command, args []string) error {
			in.PrincipalArn = args[1]
			for _, kv := range tags {
				k, v, ok := strings.Cut(kv, "=")
				if !ok || k == "" {
					return clikit.Usagef("--tag %q is not key=value", kv)
				}
				if in.Tags == nil {
					in.Tags = map[string]string{}
				}
				in.Tags[k] = v
			}
			c, err := g.Connect()
			if err != nil {
				return err
			}
			e, err := c.CreateAccessEntry(cmd.Context(), args[0], in)
			if err != nil {
				return err
			}
			return show(g, e)
		},
	}
	f := cmd.Flags()
	f.StringVar(&in.Username, "username", "", "Kubernetes user name (default: the user's ARN, or the role's session ARN)")
	f.StringArrayVar(&in.KubernetesGroups, "group", nil, "Kubernetes group for the tenant's own RBAC bindings (repeatable)")
	f.StringArrayVar(&tags, "tag", nil, "tag as key=value (repeatable)")
	return cmd
}
