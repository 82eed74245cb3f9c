package idp

import (
	"sort"
	"strings"

	"github.com/spf13/cobra"

	"github.com/cellplane/cellplane/internal/cli/clikit"
)

func newIDPDescribe(g *clikit.Globals) *cobra.Command {
	return &cobra.Command{
		Use:   "describe CLUSTER NAME",
		Short: "Show an identity provider config and its status (CREATING, ACTIVE, DELETING)",
		Args:  clusterAndName,
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := g.Connect()
			if err != nil {
				return err
			}
			p, err := c.DescribeIdentityProviderConfig(cmd.Context(), args[0], args[1])
			if err != nil {
				return err
			}
			if g.Output == "json" {
				return g.PrintJSON(map[string]any{"identityProviderConfig": map[string]any{"oidc": p}})
			}
			g.Printf("name:\t%s\nstatus:\t%s\nissuer:\t%s\nclient:\t%s\narn:\t%s\n", p.IdentityProviderConfigName, p.Status, p.IssuerURL, p.ClientID, p.IdentityProviderConfigArn)
			g.Printf("username:\tclaim %q, prefix %q\ngroups:\tclaim %q, prefix %q\n", p.UsernameClaim, p.UsernamePrefix, p.GroupsClaim, p.GroupsPrefix)
			if len(p.RequiredClaims) > 0 {
				var kv []string
				for k, v := range p.RequiredClaims {
					kv = append(kv, k+"="+v)
				}
				sort.Strings(kv)
				g.Printf("required claims:\t%s\n", strings.Join(kv, ", "))
			}
			return nil
		},
	}
}
