package client

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"

	"github.com/cellplane/cellplane/internal/eks"
)

// CreateAddon installs a managed add-on on a cluster.
func (c *Client) CreateAddon(ctx context.Context, cluster string, in eks.CreateAddonInput) (*eks.Addon, error) {
	var out eks.AddonOutput
	if err := c.call(ctx, http.MethodPost, clusterPath(cluster)+"/addons", nil, in, &out); err != nil {
		return nil, fmt.Errorf("creating add-on %s on cluster %s: %w", in.AddonName, cluster, err)
	}
	return addonOf(out)
}

// DescribeAddon returns a cluster's add-on.
func (c *Client) DescribeAddon(ctx context.Context, cluster, name string) (*eks.Addon, error) {
	var out eks.AddonOutput
	if err := c.call(ctx, http.MethodGet, addonPath(cluster, name), nil, nil, &out); err != nil {
		return nil, fmt.Errorf("describing add-on %s of cluster %s: %w", name, cluster, err)
	}
	return addonOf(out)
}

// ListAddons returns the names of a cluster's add-ons.
func (c *Client) ListAddons(ctx context.Context, cluster string) ([]string, error) {
	var all []string
	err := pages(func(token string) (string, error) {
		var out eks.ListAddonsOutput
		if err := c.call(ctx, http.MethodGet, clusterPath(cluster)+"/addons", pageQuery(token), nil, &out); err != nil {
			return "", err
		}
		all = append(all, out.Addons...)
		return out.NextToken, nil
	})
	if err != nil {
		return nil, fmt.Errorf("listing add-ons of cluster %s: %w", cluster, err)
	}
	return all, nil
}

// UpdateAddon changes an add-on's version, configuration or conflict
// resolution, as an update.
func (c *Client) UpdateAddon(ctx context.Context, cluster, name string, in eks.UpdateAddonInput) (*eks.Update, error) {
	var out eks.UpdateOutput
	if err := c.call(ctx, http.MethodPost, addonPath(cluster, name)+"/update", nil, in, &out); err != nil {
		return nil, fmt.Errorf("updating add-on %s of cluster %s: %w", name, cluster, err)
	}
	if out.Update == nil {
		return nil, errors.New("the server answered without an update")
	}
	return out.Update, nil
}

// DeleteAddon deletes an add-on; preserve leaves its objects in the cluster.
func (c *Client) DeleteAddon(ctx context.Context, cluster, name string, preserve bool) (*eks.Addon, error) {
	var out eks.AddonOutput
	q := url.Values{}
	if preserve {
		q.Set("preserve", "true")
	}
	if err := c.call(ctx, http.MethodDelete, addonPath(cluster, name), q, nil, &out); err != nil {
		return nil, fmt.Errorf("deleting add-on %s of cluster %s: %w", name, cluster, err)
	}
	return addonOf(out)
}

// DescribeAddonVersions returns the add-ons offered and their versions,
// filtered by Kubernetes minor and add-on name when those are not empty.
func (c *Client) DescribeAddonVersions(ctx context.Context, minor, name string) ([]eks.AddonInfo, error) {
	var all []eks.AddonInfo
	err := pages(func(token string) (string, error) {
		q := pageQuery(token)
		if minor != "" {
			q.Set("kubernetesVersion", minor)
		}
		if name != "" {
			q.Set("addonName", name)
		}
		var out eks.DescribeAddonVersionsOutput
		if err := c.call(ctx, http.MethodGet, "/addons/supported-versions", q, nil, &out); err != nil {
			return "", err
		}
		all = append(all, out.Addons...)
		return out.NextToken, nil
	})
	if err != nil {
		return nil, fmt.Errorf("describing add-on versions: %w", err)
	}
	return all, nil
}

func addonPath(cluster, name string) string {
	return clusterPath(cluster) + "/addons/" + url.PathEscape(name)
}

// addonOf guards against a 200 without an add-on.
func addonOf(out eks.AddonOutput) (*eks.Addon, error) {
	if out.Addon == nil {
		return nil, errors.New("the server answered without an add-on")
	}
	return out.Addon, nil
}
