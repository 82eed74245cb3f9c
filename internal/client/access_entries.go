package client

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"

	"github.com/cellplane/cellplane/internal/eks"
)

// entryPath is the path of a cluster's entry for a principal. ARNs hold
// slashes, escaped as the AWS SDKs escape them.
func entryPath(cluster, principal string) string {
	return clusterPath(cluster) + "/access-entries/" + url.PathEscape(principal)
}

// CreateAccessEntry gives a principal an access entry on a cluster.
func (c *Client) CreateAccessEntry(ctx context.Context, cluster string, in eks.CreateAccessEntryInput) (*eks.AccessEntry, error) {
	var out eks.AccessEntryOutput
	if err := c.call(ctx, http.MethodPost, clusterPath(cluster)+"/access-entries", nil, in, &out); err != nil {
		return nil, fmt.Errorf("creating access entry of %s on cluster %s: %w", in.PrincipalArn, cluster, err)
	}
	return entryOf(out)
}

// DescribeAccessEntry returns a principal's entry on a cluster.
func (c *Client) DescribeAccessEntry(ctx context.Context, cluster, principal string) (*eks.AccessEntry, error) {
	var out eks.AccessEntryOutput
	if err := c.call(ctx, http.MethodGet, entryPath(cluster, principal), nil, nil, &out); err != nil {
		return nil, fmt.Errorf("describing access entry of %s on cluster %s: %w", principal, cluster, err)
	}
	return entryOf(out)
}

// UpdateAccessEntry changes an entry's username or groups.
func (c *Client) UpdateAccessEntry(ctx context.Context, cluster, principal string, in eks.UpdateAccessEntryInput) (*eks.AccessEntry, error) {
	var out eks.AccessEntryOutput
	if err := c.call(ctx, http.MethodPost, entryPath(cluster, principal), nil, in, &out); err != nil {
		return nil, fmt.Errorf("updating access entry of %s on cluster %s: %w", principal, cluster, err)
	}
	return entryOf(out)
}

// DeleteAccessEntry deletes a principal's entry on a cluster.
func (c *Client) DeleteAccessEntry(ctx context.Context, cluster, principal string) error {
	if err := c.call(ctx, http.MethodDelete, entryPath(cluster, principal), nil, nil, nil); err != nil {
		return fmt.Errorf("deleting access entry of %s on cluster %s: %w", principal, cluster, err)
	}
	return nil
}

// ListAccessEntries returns the principal ARNs of every entry of a cluster,
// only those with the policy when policy is not empty.
func (c *Client) ListAccessEntries(ctx context.Context, cluster, policy string) ([]string, error) {
	var all []string
	err := pages(func(token string) (string, error) {
		q := pageQuery(token)
		if policy != "" {
			q.Set("associatedPolicyArn", policy)
		}
		var out eks.ListAccessEntriesOutput
		if err := c.call(ctx, http.MethodGet, clusterPath(cluster)+"/access-entries", q, nil, &out); err != nil {
			return "", err
		}
		all = append(all, out.AccessEntries...)
		return out.NextToken, nil
	})
	if err != nil {
		return nil, fmt.Errorf("listing access entries of cluster %s: %w", cluster, err)
	}
	return all, nil
}

// AssociateAccessPolicy grants an entry a policy at a scope, or moves the
// policy to that scope.
func (c *Client) AssociateAccessPolicy(ctx context.Context, cluster, principal, policy string, scope eks.AccessScope) (*eks.AssociatedAccessPolicy, error) {
	var out eks.AssociateAccessPolicyOutput
	in := eks.AssociateAccessPolicyInput{PolicyArn: policy, AccessScope: &scope}
	if err := c.call(ctx, http.MethodPost, entryPath(cluster, principal)+"/access-policies", nil, in, &out); err != nil {
		return nil, fmt.Errorf("associating %s with the access entry of %s on cluster %s: %w", policy, principal, cluster, err)
	}
	if out.AssociatedAccessPolicy == nil {
		return nil, errors.New("the server answered without the associated policy")
	}
	return out.AssociatedAccessPolicy, nil
}

// DisassociateAccessPolicy takes a policy from an entry.
func (c *Client) DisassociateAccessPolicy(ctx context.Context, cluster, principal, policy string) error {
	path := entryPath(cluster, principal) + "/access-policies/" + url.PathEscape(policy)
	if err := c.call(ctx, http.MethodDelete, path, nil, nil, nil); err != nil {
		return fmt.Errorf("disassociating %s from the access entry of %s on cluster %s: %w", policy, principal, cluster, err)
	}
	return nil
}

// ListAssociatedAccessPolicies returns every policy associated with an entry.
func (c *Client) ListAssociatedAccessPolicies(ctx context.Context, cluster, principal string) ([]eks.AssociatedAccessPolicy, error) {
	var all []eks.AssociatedAccessPolicy
	err := pages(func(token string) (string, error) {
		var out eks.ListAssociatedAccessPoliciesOutput
		if err := c.call(ctx, http.MethodGet, entryPath(cluster, principal)+"/access-policies", pageQuery(token), nil, &out); err != nil {
			return "", err
		}
		all = append(all, out.AssociatedAccessPolicies...)
		return out.NextToken, nil
	})
	if err != nil {
		return nil, fmt.Errorf("listing the policies of the access entry of %s on cluster %s: %w", principal, cluster, err)
	}
	return all, nil
}

// ListAccessPolicies returns every access policy the region serves.
func (c *Client) ListAccessPolicies(ctx context.Context) ([]eks.AccessPolicy, error) {
	var all []eks.AccessPolicy
	err := pages(func(token string) (string, error) {
		var out eks.ListAccessPoliciesOutput
		if err := c.call(ctx, http.MethodGet, "/access-policies", pageQuery(token), nil, &out); err != nil {
			return "", err
		}
		all = append(all, out.AccessPolicies...)
		return out.NextToken, nil
	})
	if err != nil {
		return nil, fmt.Errorf("listing access policies: %w", err)
	}
	return all, nil
}

// pages calls page with each nextToken until the last page.
func pages(page func(token string) (next string, err error)) error {
	token := ""
	for {
		next, err := page(token)
		if err != nil || next == "" {
			return err
		}
		if next == token {
			return errors.New("the server returned the same nextToken twice")
		}
		token = next
	}
}

// pageQuery asks for the largest pages, after token.
func pageQuery(token string) url.Values {
	q := url.Values{"maxResults": {strconv.Itoa(eks.MaxListAccessResults)}}
	if token != "" {
		q.Set("nextToken", token)
	}
	return q
}

// entryOf guards against a 200 without an entry.
func entryOf(out eks.AccessEntryOutput) (*eks.AccessEntry, error) {
	if out.AccessEntry == nil {
		return nil, errors.New("the server answered without an access entry")
	}
	return out.AccessEntry, nil
}
