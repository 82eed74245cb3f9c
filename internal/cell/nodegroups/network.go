package nodegroups

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/cellplane/cellplane/api/v1alpha1"
	"github.com/cellplane/cellplane/internal/nodes/clusternet"
	"github.com/cellplane/cellplane/internal/runtime/process"
)

// A cluster with real nodes has a cluster network (package clusternet): the
// namespace its machines' pods reach each other through, and where the
// addresses of its `kubernetes` Service forward to its endpoint. One
// process per cluster, `cellplane cluster-network`, serves it under the
// cell's runner, so it outlives a restarted cell like the machines do.
const (
	networkProcess = "cluster-network"
	networkDir     = "network" // in the cluster's directory
)

// networkKey names a cluster's network on the host: its UID, unique among
// every cell's clusters.
func networkKey(c *v1alpha1.Cluster) string { return string(c.UID) }

func (g *group) networkID() string { return g.plan.ID() + "/network" }

func (g *group) networkStateDir() string {
	return filepath.Join(g.r.Layout.ClusterDir(g.c), networkDir)
}

// ensureNetwork starts, or adopts, the cluster's network process and
// returns the link its machines join.
func (g *group) ensureNetwork(ctx context.Context) (clusternet.Link, error) {
	key := networkKey(g.c)
	dir := g.networkStateDir()
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return clusternet.Link{}, fmt.Errorf("creating the cluster network's directory: %w", err)
	}
	spec := process.Spec{ID: g.networkID(), Path: g.r.Layout.Cellplane, StateDir: dir, Name: networkProcess, Cgroup: cgroupArg(g.cg),
		Args: []string{"cluster-network", "--name", key, "--upstream", g.plan.EndpointAddress()}}
	if _, err := g.r.Runner.Ensure(ctx, spec); err != nil {
		return clusternet.Link{}, fmt.Errorf("starting the cluster network: %w", err)
	}
	return clusternet.LinkOf(key), nil
}

// releaseNetwork stops and deletes the cluster's network once no other
// group of the cluster runs real nodes. A group being deleted counts while
// it still has nodes: of two groups deleted together, the last to lose its
// nodes removes the network (both may; removing is idempotent).
func (g *group) releaseNetwork(ctx context.Context) error {
	groups, err := g.kubeletGroups(ctx)
	if err != nil {
		return err
	}
	for _, other := range groups {
		if other.Name == g.ng.Name {
			continue
		}
		if other.DeletionTimestamp.IsZero() {
			return nil
		}
		if names, err := nodeDirs(groupDir(g.r.Layout.ClusterDir(g.c), other)); err != nil || len(names) > 0 {
			return nil
		}
	}
	dir := g.networkStateDir()
	if err := g.r.Runner.Stop(ctx, process.Spec{ID: g.networkID(), StateDir: dir, Name: networkProcess}); err != nil {
		return fmt.Errorf("stopping the cluster network: %w", err)
	}
	if err := clusternet.Remove(networkKey(g.c)); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("removing the cluster network: %w", err)
	}
	return removeDir(dir)
}
