package client

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"

	"github.com/cellplane/cellplane/internal/eks"
)

// TagResource adds or replaces tags of the resource (a cluster) named by arn.
func (c *Client) TagResource(ctx context.Context, arn string, tags map[string]string) error {
	var out eks.EmptyOutput
	if err := c.call(ctx, http.MethodPost, tagsPath(arn), nil, eks.TagResourceInput{Tags: tags}, &out); err != nil {
		return fmt.Errorf("tagging %s: %w", arn, err)
	}
	return nil
}

// UntagResource removes tags by key; keys the resource does not have are ignored.
func (c *Client) UntagResource(ctx context.Context, arn string, keys ...string) error {
	var out eks.EmptyOutput
	if err := c.call(ctx, http.MethodDelete, tagsPath(arn), url.Values{eks.QueryTagKeys: keys}, nil, &out); err != nil {
		return fmt.Errorf("untagging %s: %w", arn, err)
	}
	return nil
}

// ListTagsForResource returns the tags of the resource named by arn.
func (c *Client) ListTagsForResource(ctx context.Context, arn string) (map[string]string, error) {
	var out eks.TagsOutput
	if err := c.call(ctx, http.MethodGet, tagsPath(arn), nil, nil, &out); err != nil {
		return nil, fmt.Errorf("listing tags of %s: %w", arn, err)
	}
	return out.Tags, nil
}

// DescribeClusterVersionsInput filters DescribeClusterVersions.
type DescribeClusterVersionsInput struct {
	// ClusterVersions limits the answer to these minors.
	ClusterVersions []string
	// DefaultOnly limits the answer to the default version.
	DefaultOnly bool
	// MaxResults is the page size; 0 means the server's default.
	MaxResults int
	// NextToken continues a previous call.
	NextToken string
}

// DescribeClusterVersions returns one page of the offered Kubernetes versions,
// newest first, and the token of the next page.
func (c *Client) DescribeClusterVersions(ctx context.Context, in DescribeClusterVersionsInput) (*eks.DescribeClusterVersionsOutput, error) {
	q := url.Values{}
	if len(in.ClusterVersions) > 0 {
		q["clusterVersions"] = in.ClusterVersions
	}
	if in.DefaultOnly {
		q.Set("defaultOnly", "true")
	}
	setPaging(q, in.MaxResults, in.NextToken)
	var out eks.DescribeClusterVersionsOutput
	if err := c.call(ctx, http.MethodGet, "/cluster-versions", q, nil, &out); err != nil {
		return nil, fmt.Errorf("describing cluster versions: %w", err)
	}
	return &out, nil
}

// UpdateClusterConfigInput is what UpdateClusterConfig changes; logging and
// resourcesVpcConfig are EKS's JSON objects.
type UpdateClusterConfigInput struct {
	Logging            json.RawMessage
	ResourcesVpcConfig json.RawMessage
	// DeletionProtection turns deletion protection on or off; it goes alone,
	// without logging or resourcesVpcConfig.
	DeletionProtection *bool
	// AccessConfig moves the authentication mode towards API; it goes alone.
	AccessConfig       *eks.AccessConfig
	ClientRequestToken string
}

// UpdateClusterConfig changes a cluster's logging, VPC configuration,
// deletion protection or authentication mode.
func (c *Client) UpdateClusterConfig(ctx context.Context, name string, in UpdateClusterConfigInput) (*eks.Update, error) {
	body := eks.UpdateClusterConfigInput{Logging: in.Logging, ResourcesVpcConfig: in.ResourcesVpcConfig,
		DeletionProtection: in.DeletionProtection, AccessConfig: in.AccessConfig, ClientRequestToken: in.ClientRequestToken}
	var out eks.UpdateOutput
	if err := c.call(ctx, http.MethodPost, clusterPath(name)+"/update-config", nil, body, &out); err != nil {
		return nil, fmt.Errorf("updating configuration of cluster %s: %w", name, err)
	}
	return updateOf(out)
}

// UpdateClusterVersion starts upgrading a cluster to the next Kubernetes minor.
// A retry with the same clientRequestToken returns the same update.
func (c *Client) UpdateClusterVersion(ctx context.Context, name, version, clientRequestToken string) (*eks.Update, error) {
	return c.ChangeClusterVersion(ctx, name, eks.UpdateClusterVersionInput{Version: version, ClientRequestToken: clientRequestToken})
}

// ChangeClusterVersion is UpdateClusterVersion with every field of the
// request: force, and rollbackConfig for a rollback.
func (c *Client) ChangeClusterVersion(ctx context.Context, name string, body eks.UpdateClusterVersionInput) (*eks.Update, error) {
	var out eks.UpdateOutput
	if err := c.call(ctx, http.MethodPost, clusterPath(name)+"/updates", nil, body, &out); err != nil {
		return nil, fmt.Errorf("updating version of cluster %s: %w", name, err)
	}
	return updateOf(out)
}

// CancelUpdate cancels a version update still in progress: the cluster
// goes back to the minor it ran.
func (c *Client) CancelUpdate(ctx context.Context, name, updateID string) (*eks.Update, error) {
	var out eks.UpdateOutput
	path := clusterPath(name) + "/updates/" + url.PathEscape(updateID) + "/cancel-update"
	if err := c.call(ctx, http.MethodPost, path, nil, eks.CancelUpdateInput{}, &out); err != nil {
		return nil, fmt.Errorf("cancelling update %s of cluster %s: %w", updateID, name, err)
	}
	return updateOf(out)
}

// DescribeUpdate returns one update of a cluster.
func (c *Client) DescribeUpdate(ctx context.Context, name, updateID string) (*eks.Update, error) {
	var out eks.UpdateOutput
	if err := c.call(ctx, http.MethodGet, clusterPath(name)+"/updates/"+url.PathEscape(updateID), nil, nil, &out); err != nil {
		return nil, fmt.Errorf("describing update %s of cluster %s: %w", updateID, name, err)
	}
	return updateOf(out)
}

// ListUpdates returns one page of a cluster's update IDs and the token of the
// next page, "" after the last. maxResults 0 means the server's default.
func (c *Client) ListUpdates(ctx context.Context, name string, maxResults int, nextToken string) ([]string, string, error) {
	q := url.Values{}
	setPaging(q, maxResults, nextToken)
	var out eks.ListUpdatesOutput
	if err := c.call(ctx, http.MethodGet, clusterPath(name)+"/updates", q, nil, &out); err != nil {
		return nil, "", fmt.Errorf("listing updates of cluster %s: %w", name, err)
	}
	return out.UpdateIDs, out.NextToken, nil
}

func setPaging(q url.Values, maxResults int, nextToken string) {
	if maxResults != 0 {
		q.Set("maxResults", strconv.Itoa(maxResults))
	}
	if nextToken != "" {
		q.Set("nextToken", nextToken)
	}
}

func tagsPath(arn string) string { return "/tags/" + url.PathEscape(arn) }

// updateOf guards against a 200 without an update.
func updateOf(out eks.UpdateOutput) (*eks.Update, error) {
	if out.Update == nil {
		return nil, errors.New("the response has no update")
	}
	return out.Update, nil
}
