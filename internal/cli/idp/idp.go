package idp

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/cellplane/cellplane/internal/cli/clikit"
	"github.com/cellplane/cellplane/internal/client"
	"github.com/cellplane/cellplane/internal/errdefs"
)

// New is the identity-provider command group, under cluster: the EKS
// identity provider operations, OIDC issuers whose ID tokens a cluster's API
// servers accept.
func New(g *clikit.Globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:     "identity-provider",
		Aliases: []string{"idp"},
		Short:   "Manage a cluster's OIDC identity provider (EKS Associate/Describe/List/DisassociateIdentityProviderConfig)",
	}
	cmd.AddCommand(newIDPAssociate(g), newIDPDescribe(g), newIDPList(g), newIDPDisassociate(g))
	clikit.AsGroup(cmd)
	return cmd
}

// clusterArg takes a cluster name.
var clusterArg = clikit.ExactlyOne("cluster name")

// clusterAndName takes a cluster name and a provider name.
func clusterAndName(cmd *cobra.Command, args []string) error {
	if len(args) != 2 {
		return clikit.Usagef("%s needs a cluster name and an identity provider config name, got %d arguments", cmd.CommandPath(), len(args))
	}
	return nil
}

// idpWaitTimeout bounds --wait: an API server that cannot reach the issuer
// gives up a reload after a minute and tries again a minute later.
const idpWaitTimeout = 3 * time.Minute

// waitIDP polls the provider until done says it has settled.
func waitIDP(ctx context.Context, g *clikit.Globals, c *client.Client, cluster, name string, done func(status string, gone bool) bool) error {
	ctx, cancel := context.WithTimeout(ctx, idpWaitTimeout)
	defer cancel()
	start := time.Now()
	for {
		p, err := c.DescribeIdentityProviderConfig(ctx, cluster, name)
		gone := errors.Is(err, errdefs.ErrNotFound)
		if err != nil && !gone {
			return err
		}
		status := "gone"
		if !gone {
			status = p.Status
		}
		if done(status, gone) {
			g.Note("identity provider %s of cluster %s is %s after %s\n", name, cluster, status, time.Since(start).Round(100*time.Millisecond))
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("identity provider %s of cluster %s is still %s: %w", name, cluster, status, ctx.Err())
		case <-time.After(500 * time.Millisecond):
		}
	}
}
