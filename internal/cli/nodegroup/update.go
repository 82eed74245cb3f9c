package nodegroup

import (
	"github.com/spf13/cobra"

	"github.com/cellplane/cellplane/internal/cli/clikit"
	"github.com/cellplane/cellplane/internal/eks"
)

func newUpdate(g *clikit.Globals) *cobra.Command {
	var (
		nodes, minSize, maxSize int32
		addLabels, rmLabels     []string
		addTaints, rmTaints     []string
		wait                    bool
	)
	cmd := &cobra.Command{
		Use:   "update CLUSTER NAME",
		Short: "Resize a node group or change its nodes' labels and taints; a scale-down drains nodes politely",
		Args:  clusterAndName,
		RunE: func(cmd *cobra.Command, args []string) error {
			var in eks.UpdateNodegroupConfigInput
			f := cmd.Flags()
			if f.Changed("nodes") || f.Changed("min") || f.Changed("max") {
				in.ScalingConfig = &eks.NodegroupScalingConfig{}
				for _, s := range []struct {
					flag string
					v    *int32
					dst  **int32
				}{{"nodes", &nodes, &in.ScalingConfig.DesiredSize}, {"min", &minSize, &in.ScalingConfig.MinSize}, {"max", &maxSize, &in.ScalingConfig.MaxSize}} {
					if f.Changed(s.flag) {
						*s.dst = s.v
					}
				}
			}
			add, err := labels(addLabels)
			if err != nil {
				return err
			}
			if add != nil || rmLabels != nil {
				in.Labels = &eks.UpdateLabelsPayload{AddOrUpdateLabels: add, RemoveLabels: rmLabels}
			}
			at, err := taints(addTaints)
			if err != nil {
				return err
			}
			rt, err := taints(rmTaints)
			if err != nil {
				return err
			}
			if at != nil || rt != nil {
				in.Taints = &eks.UpdateTaintsPayload{AddOrUpdateTaints: at, RemoveTaints: rt}
			}
			c, err := g.Connect()
			if err != nil {
				return err
			}
			u, err := c.UpdateNodegroupConfig(cmd.Context(), args[0], args[1], in)
			if err != nil {
				return err
			}
			if wait {
				err := waitFor(cmd.Context(), g, c, args[0], args[1], func(n *eks.Nodegroup, err error) (bool, error) {
					return err == nil && n.Status == eks.NodegroupStatusActive, nil
				})
				if err != nil {
					return err
				}
			}
			if g.Output == "json" {
				return g.PrintJSON(map[string]any{"update": u})
			}
			g.Printf("%s  %s  %s\n", u.ID, u.Type, u.Status)
			return nil
		},
	}
	f := cmd.Flags()
	f.Int32Var(&nodes, "nodes", 0, "desired number of nodes")
	f.Int32Var(&minSize, "min", 0, "minimum number of nodes")
	f.Int32Var(&maxSize, "max", 0, "maximum number of nodes")
	f.StringArrayVar(&addLabels, "label", nil, "add or change a node label, key=value (repeatable)")
	f.StringArrayVar(&rmLabels, "remove-label", nil, "remove a node label by key (repeatable)")
	f.StringArrayVar(&addTaints, "taint", nil, "add or change a taint, key[=value]:EFFECT (repeatable)")
	f.StringArrayVar(&rmTaints, "remove-taint", nil, "remove a taint, key:EFFECT (repeatable)")
	f.BoolVar(&wait, "wait", false, "wait until the group is ACTIVE again")
	return cmd
}
