package nodegroup

import (
	"errors"

	"github.com/spf13/cobra"

	"github.com/cellplane/cellplane/internal/cli/clikit"
	"github.com/cellplane/cellplane/internal/eks"
)

func newCreate(g *clikit.Globals) *cobra.Command {
	var (
		in                        eks.CreateNodegroupInput
		nodes, minSize, maxSize   int32
		kind                      string
		zones, labelFlags, tFlags []string
		wait                      bool
	)
	cmd := &cobra.Command{
		Use:   "create CLUSTER NAME",
		Short: "Create a managed node group: hollow (kubemark) or real kubelet nodes spread over the cluster's zones",
		Args:  clusterAndName,
		RunE: func(cmd *cobra.Command, args []string) error {
			in.NodegroupName = args[1]
			switch kind {
			case "hollow":
				in.AmiType = "CELLPLANE_HOLLOW"
			case "kubelet":
				in.AmiType = "CELLPLANE_KUBELET"
			default:
				return clikit.Usagef("--type %q is not hollow or kubelet", kind)
			}
			in.Subnets = zones
			in.NodeRole = "arn:aws:iam::000000000000:role/cellplane-node"
			in.ScalingConfig = &eks.NodegroupScalingConfig{MinSize: &minSize, MaxSize: &maxSize, DesiredSize: &nodes}
			var err error
			if in.Labels, err = labels(labelFlags); err != nil {
				return err
			}
			if in.Taints, err = taints(tFlags); err != nil {
				return err
			}
			c, err := g.Connect()
			if err != nil {
				return err
			}
			ng, err := c.CreateNodegroup(cmd.Context(), args[0], in)
			if err != nil {
				return err
			}
			if wait {
				err = waitFor(cmd.Context(), g, c, args[0], args[1], func(n *eks.Nodegroup, err error) (bool, error) {
					if err != nil {
						return false, nil
					}
					if n.Status == eks.NodegroupStatusCreateFailed {
						return false, errors.New("the node group failed to create")
					}
					ng = n
					return n.Status == eks.NodegroupStatusActive, nil
				})
				if err != nil {
					return err
				}
			}
			return show(g, ng)
		},
	}
	f := cmd.Flags()
	f.Int32Var(&nodes, "nodes", 2, "desired number of nodes")
	f.Int32Var(&minSize, "min", 1, "minimum number of nodes")
	f.Int32Var(&maxSize, "max", 2, "maximum number of nodes")
	f.StringVar(&kind, "type", "hollow", "node kind: hollow (kubemark) or kubelet (a real kubelet)")
	f.StringArrayVar(&zones, "zone", []string{"a", "b", "c"}, "zone to spread the nodes over (repeatable)")
	f.StringArrayVar(&labelFlags, "label", nil, "node label as key=value (repeatable)")
	f.StringArrayVar(&tFlags, "taint", nil, "node taint as key[=value]:NO_SCHEDULE|NO_EXECUTE|PREFER_NO_SCHEDULE (repeatable)")
	f.BoolVar(&wait, "wait", false, "wait until every node is Ready and the group ACTIVE")
	return cmd
}
