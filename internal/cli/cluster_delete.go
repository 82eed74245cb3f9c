package cli

import (
	"errors"
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/cellplane/cellplane/internal/client"
	"github.com/cellplane/cellplane/internal/eks"
	"github.com/cellplane/cellplane/internal/errdefs"
)

func newClusterDelete(g *globals) *cobra.Command {
	var wait bool
	var timeout time.Duration
	cmd := &cobra.Command{
		Use:   "delete NAME",
		Short: "Delete a cluster: every process, port and file of it (refused while deletion protection is on)",
		Args:  nameArg,
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := g.Connect()
			if err != nil {
				return err
			}
			cl, err := c.DeleteCluster(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			if !wait {
				return g.showCluster(cl)
			}
			return g.waitDeleted(cmd, c, args[0], timeout)
		},
	}
	cmd.Flags().BoolVar(&wait, "wait", false, "wait until the cluster is gone")
	cmd.Flags().DurationVar(&timeout, "timeout", 5*time.Minute, "how long --wait waits")
	return cmd
}

func (g *globals) waitDeleted(cmd *cobra.Command, c *client.Client, name string, timeout time.Duration) error {
	ctx, cancel := contextWithTimeout(cmd, timeout)
	defer cancel()
	start := time.Now()
	g.Note("deleting cluster %s\n", name)
	_, err := client.WaitFor(ctx, c, name, func(*eks.Cluster) bool { return false }, nil)
	if errors.Is(err, errdefs.ErrNotFound) {
		g.Note("cluster %s deleted in %s\n", name, time.Since(start).Round(100*time.Millisecond))
		return nil
	}
	if err == nil {
		err = fmt.Errorf("cluster %s still exists", name)
	}
	return err
}
