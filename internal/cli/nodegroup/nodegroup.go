package nodegroup

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/cellplane/cellplane/internal/cli/clikit"
	"github.com/cellplane/cellplane/internal/client"
	"github.com/cellplane/cellplane/internal/eks"
	"github.com/cellplane/cellplane/internal/poll"
)

// New is the nodegroup command group.
func New(g *clikit.Globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "nodegroup",
		Short: "Manage a cluster's worker nodes (EKS managed node groups)",
	}
	cmd.PersistentFlags().StringVarP(&g.Output, "output", "o", "table", "output format: table or json")
	cmd.AddCommand(newCreate(g), newList(g), newDescribe(g), newUpdate(g), newDelete(g))
	clikit.AsGroup(cmd)
	return cmd
}

// clusterAndName accepts a cluster name and a node group name.
func clusterAndName(cmd *cobra.Command, args []string) error {
	if len(args) != 2 {
		return clikit.Usagef("%s needs a cluster name and a node group name, got %d arguments", cmd.CommandPath(), len(args))
	}
	return nil
}

// show prints one node group as a table row or as EKS's nodegroup.
func show(g *clikit.Globals, ng *eks.Nodegroup) error {
	if g.Output == "json" {
		return g.PrintJSON(map[string]any{"nodegroup": ng})
	}
	s := ng.ScalingConfig
	g.Printf("%s  cluster=%s  status=%s  type=%s  nodes=%d (min %d, max %d)  version=%s\n", ng.NodegroupName, ng.ClusterName, ng.Status,
		ng.AmiType, deref(s.DesiredSize), deref(s.MinSize), deref(s.MaxSize), ng.ReleaseVersion)
	for _, is := range ng.Health.Issues {
		g.Printf("  issue %s: %s %s\n", is.Code, is.Message, strings.Join(is.ResourceIDs, ","))
	}
	return nil
}

func deref(p *int32) int32 {
	if p == nil {
		return 0
	}
	return *p
}

// labels parses key=value flags.
func labels(flags []string) (map[string]string, error) {
	if len(flags) == 0 {
		return nil, nil
	}
	out := map[string]string{}
	for _, kv := range flags {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || k == "" {
			return nil, clikit.Usagef("--label %q is not key=value", kv)
		}
		out[k] = v
	}
	return out, nil
}

// taints parses key[=value]:EFFECT flags, EFFECT as EKS spells it.
func taints(flags []string) ([]eks.Taint, error) {
	var out []eks.Taint
	for _, s := range flags {
		kv, effect, ok := strings.Cut(s, ":")
		if !ok || kv == "" {
			return nil, clikit.Usagef("--taint %q is not key[=value]:NO_SCHEDULE|NO_EXECUTE|PREFER_NO_SCHEDULE", s)
		}
		k, v, _ := strings.Cut(kv, "=")
		out = append(out, eks.Taint{Key: k, Value: v, Effect: effect})
	}
	return out, nil
}

// waitFor polls the group until done says so, showing its status changes.
func waitFor(ctx context.Context, g *clikit.Globals, c *client.Client, cluster, name string, done func(*eks.Nodegroup, error) (bool, error)) error {
	last := ""
	return poll.Until(ctx, 20*time.Minute, time.Second, func() error {
		ng, err := c.DescribeNodegroup(ctx, cluster, name)
		ok, derr := done(ng, err)
		if derr != nil {
			return poll.Permanent(derr)
		}
		if ng != nil && ng.Status != last {
			last = ng.Status
			g.Note("%s: %s\n", name, ng.Status)
		}
		if !ok {
			return fmt.Errorf("node group %s not there yet", name)
		}
		return nil
	})
}
