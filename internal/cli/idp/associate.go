package idp

import (
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/cellplane/cellplane/internal/cli/clikit"
	"github.com/cellplane/cellplane/internal/eks"
)

func newIDPAssociate(g *clikit.Globals) *cobra.Command {
	var o eks.OidcIdentityProviderConfigRequest
	var required, tags []string
	var caFile, token string
	var wait bool
	cmd := &cobra.Command{
		Use:   "associate CLUSTER --name NAME --issuer-url URL --client-id ID",
		Short: "Accept the ID tokens of an OIDC issuer on every API server of the cluster, without restarting them",
		Args:  clusterArg,
		RunE: func(cmd *cobra.Command, args []string) error {
			in := eks.AssociateIdentityProviderConfigInput{OIDC: &o, ClientRequestToken: token}
			var err error
			if o.RequiredClaims, err = keyValues("--required-claim", required); err != nil {
				return err
			}
			if in.Tags, err = keyValues("--tag", tags); err != nil {
				return err
			}
			if caFile != "" {
				ca, err := os.ReadFile(caFile) //nolint:gosec // G304: the user names the file to read on the command line
				if err != nil {
					return clikit.Usagef("reading --issuer-ca-file: %v", err)
				}
				in.Cellplane = &eks.IdentityProviderExtension{IssuerCertificateAuthority: string(ca)}
			}
			c, err := g.Connect()
			if err != nil {
				return err
			}
			u, err := c.AssociateIdentityProviderConfig(cmd.Context(), args[0], in)
			if err != nil {
				return err
			}
			if g.Output == "json" && !wait {
				return g.PrintJSON(map[string]any{"update": u})
			}
			g.Note("associating identity provider %s with cluster %s (update %s, %s)\n", o.IdentityProviderConfigName, args[0], u.ID, u.Status)
			if !wait {
				return nil
			}
			err = waitIDP(cmd.Context(), g, c, args[0], o.IdentityProviderConfigName, func(status string, _ bool) bool { return status == eks.ConfigStatusActive })
			if err != nil || g.Output != "json" {
				return err
			}
			p, err := c.DescribeIdentityProviderConfig(cmd.Context(), args[0], o.IdentityProviderConfigName)
			if err != nil {
				return err
			}
			return g.PrintJSON(map[string]any{"identityProviderConfig": map[string]any{"oidc": p}})
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.IdentityProviderConfigName, "name", "", "name of the identity provider config")
	f.StringVar(&o.IssuerURL, "issuer-url", "", "https URL of the issuer (its tokens' iss claim)")
	f.StringVar(&o.ClientID, "client-id", "", "the audience the ID tokens are issued for")
	f.StringVar(&o.UsernameClaim, "username-claim", "", "claim naming the user (default sub)")
	f.StringVar(&o.UsernamePrefix, "username-prefix", "", `prefix of user names (default "<issuer-url>#" unless the claim is email; "-" for none)`)
	f.StringVar(&o.GroupsClaim, "groups-claim", "", "claim listing the user's groups")
	f.StringVar(&o.GroupsPrefix, "groups-prefix", "", "prefix of group names")
	f.StringArrayVar(&required, "required-claim", nil, "KEY=VALUE a token must carry (repeatable)")
	f.StringArrayVar(&tags, "tag", nil, "KEY=VALUE tag of the config (repeatable)")
	f.StringVar(&caFile, "issuer-ca-file", "", "PEM file of the CA that signed the issuer's certificate, when no public CA did")
	f.StringVar(&token, "client-request-token", "", "idempotency token: a retry with the same token returns the same update")
	f.BoolVar(&wait, "wait", false, "wait until every API server accepts the issuer's tokens (ACTIVE)")
	return cmd
}

// keyValues parses repeated KEY=VALUE flags.
func keyValues(flag string, pairs []string) (map[string]string, error) {
	if len(pairs) == 0 {
		return nil, nil
	}
	out := map[string]string{}
	for _, p := range pairs {
		k, v, ok := strings.Cut(p, "=")
		if !ok || k == "" {
			return nil, clikit.Usagef("%s wants KEY=VALUE, got %q", flag, p)
		}
		out[k] = v
	}
	return out, nil
}
