package cli

import (
	"context"
	"strings"

	"github.com/spf13/cobra"

	"github.com/cellplane/cellplane/internal/cli/clikit"
	"github.com/cellplane/cellplane/internal/operator"
)

func newZone(g *globals) *cobra.Command {
	cmd := &cobra.Command{Use: "zone", Short: "Shift zones out of a cell and back, inject zone faults (operator)"}
	cmd.AddCommand(newZoneShift(g), newZoneFault(g))
	clikit.AsGroup(cmd)
	return cmd
}

func newZoneShift(g *globals) *cobra.Command {
	var cell string
	var undo bool
	cmd := &cobra.Command{
		Use:   "shift ZONE [--cell NAME] [--undo]",
		Short: "Move every cluster of a cell out of one zone, like a zonal shift",
		Long: `Shift a zone (a, b or c) out of a cell. In every cluster of the cell, the endpoint
stops sending new connections to the zone's API servers and closes their existing ones
over 5 seconds (clients reconnect to the other zone; watches resume), the zone's
controller manager and scheduler stop so that leadership moves to the other zone, and
etcd's leader moves to a member outside the zone. The zone's etcd member keeps running
for quorum. The cell keeps a shift in force while the region is away. One zone at a
time. --undo brings the zone back: its controllers start again and new connections
reach its API servers again, while existing ones stay where they are until they
rebalance (--goaway-chance and the endpoint's maximum connection age).`,
		Args: clikit.ExactlyOne("zone"),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := g.cells()
			if err != nil {
				return err
			}
			if cell, err = onlyCell(cmd.Context(), c, cell); err != nil {
				return err
			}
			if err := c.ShiftZone(cmd.Context(), cell, args[0], undo); err != nil {
				return err
			}
			if undo {
				g.Printf("zone %s of cell %s is back in rotation\n", args[0], cell)
			} else {
				g.Printf("zone %s is shifted out of cell %s; its clusters evacuate it (see the ZoneShifted condition)\n", args[0], cell)
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&cell, "cell", "", "the cell (needed when the region has more than one)")
	cmd.Flags().BoolVar(&undo, "undo", false, "bring the zone back")
	return cmd
}

// onlyCell is name, or the region's only cell when name is empty.
func onlyCell(ctx context.Context, c *operator.Cells, name string) (string, error) {
	if name != "" {
		return name, nil
	}
	views, err := c.List(ctx)
	if err != nil {
		return "", err
	}
	if len(views) != 1 {
		var names []string
		for _, v := range views {
			names = append(names, v.Name)
		}
		return "", clikit.Usagef("the region has %d cells (%s): name one with --cell", len(views), strings.Join(names, ", "))
	}
	return views[0].Name, nil
}
