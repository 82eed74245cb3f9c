package client

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"

	"github.com/cellplane/cellplane/internal/eks"
)

// nodegroupPath is the path of a cluster's node group.
func nodegroupPath(cluster, name string) string {
	return clusterPath(cluster) + "/node-groups/" + url.PathEscape(name)
}

// CreateNodegroup creates a managed node group.
func (c *Client) CreateNodegroup(ctx context.Context, cluster string, in eks.CreateNodegroupInput) (*eks.Nodegroup, error) {
	var out eks.NodegroupOutput
	if err := c.call(ctx, http.MethodPost, clusterPath(cluster)+"/node-groups", nil, in, &out); err != nil {
		return nil, fmt.Errorf("creating node group %s of cluster %s: %w", in.NodegroupName, cluster, err)
	}
	return nodegroupOf(out)
}

// DescribeNodegroup returns a node group.
func (c *Client) DescribeNodegroup(ctx context.Context, cluster, name string) (*eks.Nodegroup, error) {
	var out eks.NodegroupOutput
	if err := c.call(ctx, http.MethodGet, nodegroupPath(cluster, name), nil, nil, &out); err != nil {
		return nil, fmt.Errorf("describing node group %s of cluster %s: %w", name, cluster, err)
	}
	return nodegroupOf(out)
}

// DeleteNodegroup starts deleting a node group.
func (c *Client) DeleteNodegroup(ctx context.Context, cluster, name string) (*eks.Nodegroup, error) {
	var out eks.NodegroupOutput
	if err := c.call(ctx, http.MethodDelete, nodegroupPath(cluster, name), nil, nil, &out); err != nil {
		return nil, fmt.Errorf("deleting node group %s of cluster %s: %w", name, cluster, err)
	}
	return nodegroupOf(out)
}

// UpdateNodegroupConfig changes a node group's size, labels or taints.
func (c *Client) UpdateNodegroupConfig(ctx context.Context, cluster, name string, in eks.UpdateNodegroupConfigInput) (*eks.Update, error) {
	var out eks.UpdateOutput
	if err := c.call(ctx, http.MethodPost, nodegroupPath(cluster, name)+"/update-config", nil, in, &out); err != nil {
		return nil, fmt.Errorf("updating node group %s of cluster %s: %w", name, cluster, err)
	}
	if out.Update == nil {
		return nil, errors.New("the server answered without an update")
	}
	return out.Update, nil
}

// ListNodegroups lists a cluster's node groups, every page.
func (c *Client) ListNodegroups(ctx context.Context, cluster string) ([]string, error) {
	var all []string
	err := pages(func(token string) (string, error) {
		var out eks.ListNodegroupsOutput
		if err := c.call(ctx, http.MethodGet, clusterPath(cluster)+"/node-groups", pageQuery(token), nil, &out); err != nil {
			return "", err
		}
		all = append(all, out.Nodegroups...)
		return out.NextToken, nil
	})
	if err != nil {
		return nil, fmt.Errorf("listing node groups of cluster %s: %w", cluster, err)
	}
	return all, nil
}

func nodegroupOf(out eks.NodegroupOutput) (*eks.Nodegroup, error) {
	if out.Nodegroup == nil {
		return nil, errors.New("the server answered without a node group")
	}
	return out.Nodegroup, nil
}
