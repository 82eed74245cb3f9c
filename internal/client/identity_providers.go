package client

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strconv"

	"github.com/cellplane/cellplane/internal/eks"
)

func idpPath(cluster string) string { return clusterPath(cluster) + "/identity-provider-configs" }

func idpRef(name string) *eks.IdentityProviderConfig {
	return &eks.IdentityProviderConfig{Type: eks.IdentityProviderTypeOIDC, Name: name}
}

// AssociateIdentityProviderConfig associates an OIDC identity provider with
// a cluster; in.Cellplane may carry the issuer's CA.
func (c *Client) AssociateIdentityProviderConfig(ctx context.Context, cluster string, in eks.AssociateIdentityProviderConfigInput) (*eks.Update, error) {
	var out eks.AssociateIdentityProviderConfigOutput
	if err := c.call(ctx, http.MethodPost, idpPath(cluster)+"/associate", nil, in, &out); err != nil {
		return nil, fmt.Errorf("associating an identity provider with cluster %s: %w", cluster, err)
	}
	return updateOf(eks.UpdateOutput{Update: out.Update})
}

// DescribeIdentityProviderConfig describes a cluster's OIDC provider.
func (c *Client) DescribeIdentityProviderConfig(ctx context.Context, cluster, name string) (*eks.OidcIdentityProviderConfig, error) {
	var out eks.DescribeIdentityProviderConfigOutput
	in := eks.DescribeIdentityProviderConfigInput{IdentityProviderConfig: idpRef(name)}
	if err := c.call(ctx, http.MethodPost, idpPath(cluster)+"/describe", nil, in, &out); err != nil {
		return nil, fmt.Errorf("describing identity provider %s of cluster %s: %w", name, cluster, err)
	}
	if out.IdentityProviderConfig == nil || out.IdentityProviderConfig.OIDC == nil {
		return nil, fmt.Errorf("describing identity provider %s of cluster %s: the response has no configuration", name, cluster)
	}
	return out.IdentityProviderConfig.OIDC, nil
}

// ListIdentityProviderConfigs lists the names of a cluster's providers.
func (c *Client) ListIdentityProviderConfigs(ctx context.Context, cluster string) ([]string, error) {
	var names []string
	next := ""
	for {
		q := url.Values{"maxResults": {strconv.Itoa(eks.MaxListIdentityProviderConfigsResults)}}
		if next != "" {
			q.Set("nextToken", next)
		}
		var out eks.ListIdentityProviderConfigsOutput
		if err := c.call(ctx, http.MethodGet, idpPath(cluster), q, nil, &out); err != nil {
			return nil, fmt.Errorf("listing the identity providers of cluster %s: %w", cluster, err)
		}
		for _, p := range out.IdentityProviderConfigs {
			names = append(names, p.Name)
		}
		if next = out.NextToken; next == "" {
			return names, nil
		}
	}
}

// DisassociateIdentityProviderConfig removes a cluster's OIDC provider.
func (c *Client) DisassociateIdentityProviderConfig(ctx context.Context, cluster, name, clientRequestToken string) (*eks.Update, error) {
	in := eks.DisassociateIdentityProviderConfigInput{IdentityProviderConfig: idpRef(name), ClientRequestToken: clientRequestToken}
	var out eks.UpdateOutput
	if err := c.call(ctx, http.MethodPost, idpPath(cluster)+"/disassociate", nil, in, &out); err != nil {
		return nil, fmt.Errorf("disassociating identity provider %s from cluster %s: %w", name, cluster, err)
	}
	return updateOf(out)
}
