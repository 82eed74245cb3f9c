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

// CreateClusterInput is what CreateCluster asks for.
type CreateClusterInput struct {
	// Name is the cluster's name (EKS rules: 1-100 letters, digits, hyphens, underscores).
	Name string
	// Version is the Kubernetes minor, for example "1.35"; empty means the newest offered.
	Version string
	// Tags are key-value tags.
	Tags map[string]string
	// ClientRequestToken makes the call idempotent: a retry with the same token and
	// parameters returns the cluster the first call created.
	ClientRequestToken string
	// EtcdQuotaBytes is each etcd member's backend quota; 0 means 2 GiB.
	EtcdQuotaBytes int64
	// FromBackup restores the new cluster's etcd from another cluster's
	// backups; nil creates an empty cluster.
	FromBackup *eks.FromBackup
	// DeletionProtection makes DeleteCluster refuse the cluster once it is
	// ACTIVE, until UpdateClusterConfig turns it off.
	DeletionProtection bool
	// EncryptionKeyARN binds the cluster's Secrets to a key of the region's
	// key service; empty leaves them under the service's keys.
	EncryptionKeyARN string
	// AccessConfig is how principals sign in; nil is EKS's default
	// (API_AND_CONFIG_MAP, the creator bootstrapped as cluster admin).
	AccessConfig *eks.AccessConfig
	// BootstrapSelfManagedAddons false creates the cluster without the
	// default coredns and kube-proxy add-ons; nil is EKS's default (with).
	BootstrapSelfManagedAddons *bool
}

// CreateCluster creates a cluster and returns it, CREATING.
func (c *Client) CreateCluster(ctx context.Context, in CreateClusterInput) (*eks.Cluster, error) {
	body := eks.CreateClusterInput{Name: in.Name, Version: in.Version, Tags: in.Tags, ClientRequestToken: in.ClientRequestToken, AccessConfig: in.AccessConfig,
		BootstrapSelfManagedAddons: in.BootstrapSelfManagedAddons}
	if in.DeletionProtection {
		body.DeletionProtection = &in.DeletionProtection
	}
	if in.EncryptionKeyARN != "" {
		body.EncryptionConfig = EncryptionConfig(in.EncryptionKeyARN)
	}
	if in.EtcdQuotaBytes != 0 || in.FromBackup != nil {
		body.Cellplane = &eks.CreateOptions{EtcdQuotaBytes: in.EtcdQuotaBytes, FromBackup: in.FromBackup}
	}
	var out eks.ClusterOutput
	if err := c.call(ctx, http.MethodPost, "/clusters", nil, body, &out); err != nil {
		return nil, fmt.Errorf("creating cluster %s: %w", in.Name, err)
	}
	return clusterOf(out)
}

// DescribeCluster returns a cluster; an error matching errdefs.ErrNotFound when
// there is none.
func (c *Client) DescribeCluster(ctx context.Context, name string) (*eks.Cluster, error) {
	var out eks.ClusterOutput
	if err := c.call(ctx, http.MethodGet, clusterPath(name), nil, nil, &out); err != nil {
		return nil, fmt.Errorf("describing cluster %s: %w", name, err)
	}
	return clusterOf(out)
}

// DeleteCluster starts deleting a cluster and returns it, DELETING.
func (c *Client) DeleteCluster(ctx context.Context, name string) (*eks.Cluster, error) {
	var out eks.ClusterOutput
	if err := c.call(ctx, http.MethodDelete, clusterPath(name), nil, nil, &out); err != nil {
		return nil, fmt.Errorf("deleting cluster %s: %w", name, err)
	}
	return clusterOf(out)
}

// ListClusters returns one page of cluster names and the token of the next page,
// "" after the last. maxResults 0 means the server's default.
func (c *Client) ListClusters(ctx context.Context, maxResults int, nextToken string) ([]string, string, error) {
	q := url.Values{}
	if maxResults != 0 {
		q.Set("maxResults", strconv.Itoa(maxResults))
	}
	if nextToken != "" {
		q.Set("nextToken", nextToken)
	}
	var out eks.ListClustersOutput
	if err := c.call(ctx, http.MethodGet, "/clusters", q, nil, &out); err != nil {
		return nil, "", fmt.Errorf("listing clusters: %w", err)
	}
	return out.Clusters, out.NextToken, nil
}

// ListAllClusters pages through every cluster name.
func (c *Client) ListAllClusters(ctx context.Context) ([]string, error) {
	var all []string
	token := ""
	for {
		names, next, err := c.ListClusters(ctx, eks.MaxListResults, token)
		if err != nil {
			return nil, err
		}
		all = append(all, names...)
		if next == "" {
			return all, nil
		}
		if next == token {
			return nil, errors.New("listing clusters: the server returned the same nextToken twice")
		}
		token = next
	}
}

// Kubeconfig returns the cluster's admin kubeconfig (YAML). Until the cluster is
// ACTIVE the error matches errdefs.ErrNotFound and says why.
func (c *Client) Kubeconfig(ctx context.Context, name string) ([]byte, error) {
	var out eks.KubeconfigOutput
	path := "/cellplane/clusters/" + url.PathEscape(name) + "/kubeconfig"
	if err := c.call(ctx, http.MethodGet, path, nil, nil, &out); err != nil {
		return nil, fmt.Errorf("getting kubeconfig of cluster %s: %w", name, err)
	}
	return []byte(out.Kubeconfig), nil
}

func clusterPath(name string) string { return "/clusters/" + url.PathEscape(name) }

// clusterOf guards against a 200 without a cluster, which callers would
// otherwise meet as a nil pointer.
func clusterOf(out eks.ClusterOutput) (*eks.Cluster, error) {
	if out.Cluster == nil {
		return nil, errors.New("the response has no cluster")
	}
	return out.Cluster, nil
}
