package cli

import (
	"github.com/spf13/cobra"

	"github.com/cellplane/cellplane/internal/cell/nodegroups"
)

// newHollowNode is the wrapper a cell starts each hollow node through: it
// gives kubemark a /tmp of its own and the node's current registration,
// then becomes kubemark.
func newHollowNode() *cobra.Command {
	var tmp, registration string
	cmd := &cobra.Command{
		Use:    "hollow-node --tmp DIR --registration FILE -- KUBEMARK [ARGS...]",
		Short:  "Run a hollow node of a node group (started by the cell)",
		Hidden: true,
		Args:   cobra.MinimumNArgs(1),
		RunE: func(_ *cobra.Command, args []string) error {
			return nodegroups.ExecHollow(tmp, registration, args[0], args[1:])
		},
	}
	cmd.Flags().StringVar(&tmp, "tmp", "", "directory mounted over /tmp for the node")
	cmd.Flags().StringVar(&registration, "registration", "", "file of the labels and taints the node registers with")
	_ = cmd.MarkFlagRequired("tmp")
	_ = cmd.MarkFlagRequired("registration")
	return cmd
}
