package operator

import (
	"context"
	"fmt"
	"strings"

	"github.com/cellplane/cellplane/api/v1alpha1"
	"github.com/cellplane/cellplane/internal/eks"
	"github.com/cellplane/cellplane/internal/errdefs"
)

// ClusterDetails returns what the cell reports of an account's cluster, all
// of it: the cell, every component's address and PID, the backup location and
// unredacted messages. The regional API gives tenants only a redacted view;
// this reads the region's store with the operator's credentials instead.
func (c *Client) ClusterDetails(ctx context.Context, account, name string) (*eks.Extension, error) {
	if !v1alpha1.ValidName(name) {
		return nil, fmt.Errorf("%w: %q is not a cluster name", errdefs.ErrInvalidParameter, name)
	}
	cluster, err := c.regionCluster(ctx, account, name)
	if err != nil {
		return nil, err
	}
	return eks.ExtensionOf(cluster), nil
}

// WithDetails returns a copy of a cluster as the regional API described it to
// its tenant, with the tenant's redacted extension replaced by ClusterDetails.
func (c *Client) WithDetails(ctx context.Context, cl *eks.Cluster) (*eks.Cluster, error) {
	account, ok := accountOfARN(cl.Arn)
	if !ok {
		return nil, fmt.Errorf("%w: cluster %s has no account in its ARN %q", errdefs.ErrInvalidParameter, cl.Name, cl.Arn)
	}
	ext, err := c.ClusterDetails(ctx, account, cl.Name)
	if err != nil {
		return nil, err
	}
	out := *cl
	out.Cellplane = ext
	return &out, nil
}

// accountOfARN reads the account of arn:cellplane:eks:<region>:<account>:cluster/<name>.
func accountOfARN(arn string) (string, bool) {
	parts := strings.SplitN(arn, ":", 6)
	if len(parts) != 6 || parts[0] != "arn" || parts[4] == "" {
		return "", false
	}
	return parts[4], true
}
