package cli

import (
	"context"
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/cellplane/cellplane/api/v1alpha1"
	"github.com/cellplane/cellplane/internal/cli/clikit"
)

func newZoneFault(g *globals) *cobra.Command {
	var cell string
	var cut, blackhole, clear bool
	var latency, wait time.Duration
	var loss int
	cmd := &cobra.Command{
		Use:   "fault ZONE [--cell NAME] (--cut | --blackhole | --latency D [--loss P] | --loss P | --clear)",
		Short: "Inject a fault into one zone's network, for game days and tests",
		Long: `Inject a fault into a zone (a, b or c) of a cell whose zones live in their own network
namespaces (cellplane up --zone-namespaces on a new data directory). The fault replaces
any the zone has:

  --cut        the zone's link goes down
  --blackhole  everything the zone sends vanishes, without FIN, RST or ICMP: its peers
               see silence, as when racks lose power or a switch drops traffic
  --latency D  adds D (up to 5s) to every packet the zone sends, like tc netem
  --loss P     drops P percent of the packets the zone sends (with or without --latency)
  --clear      removes the zone's fault

The cell applies the fault within a few seconds (the command waits for it, see --wait)
and lists it in 'cellplane cell list'.
Its zone health probes then judge the zone, and an impaired zone is evacuated as by
'cellplane zone shift' until it heals. A latency or loss fault lives in the cell's
process: the cell applies its faults again when it restarts.`,
		Args: clikit.ExactlyOne("zone"),
		RunE: func(cmd *cobra.Command, args []string) error {
			fault, err := faultFromFlags(cut, blackhole, clear, latency, loss)
			if err != nil {
				return err
			}
			c, err := g.cells()
			if err != nil {
				return err
			}
			if cell, err = onlyCell(cmd.Context(), c, cell); err != nil {
				return err
			}
			if err := c.FaultZone(cmd.Context(), cell, args[0], fault); err != nil {
				return err
			}
			if wait > 0 {
				ctx, cancel := context.WithTimeout(cmd.Context(), wait)
				defer cancel()
				if err := c.WaitFault(ctx, cell, args[0], fault); err != nil {
					return err
				}
			}
			if fault == nil {
				g.Printf("zone %s of cell %s: fault cleared\n", args[0], cell)
			} else {
				g.Printf("zone %s of cell %s: %s injected\n", args[0], cell, describeFault(*fault))
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&cell, "cell", "", "the cell (needed when the region has more than one)")
	f.BoolVar(&cut, "cut", false, "take the zone's link down")
	f.BoolVar(&blackhole, "blackhole", false, "drop everything the zone sends, silently")
	f.DurationVar(&latency, "latency", 0, "latency added to every packet the zone sends (up to 5s)")
	f.IntVar(&loss, "loss", 0, "percent of the packets the zone sends to drop (0 to 100)")
	f.BoolVar(&clear, "clear", false, "remove the zone's fault")
	f.DurationVar(&wait, "wait", 30*time.Second, "how long to wait for the cell to apply the fault (0: do not wait)")
	return cmd
}

// faultFromFlags turns exactly one choice of fault into the cell's fault;
// nil means clear.
func faultFromFlags(cut, blackhole, clear bool, latency time.Duration, loss int) (*v1alpha1.ZoneFault, error) {
	degrade := latency != 0 || loss != 0
	chosen := 0
	for _, on := range []bool{cut, blackhole, clear, degrade} {
		if on {
			chosen++
		}
	}
	switch {
	case chosen != 1:
		return nil, clikit.Usagef("choose one of --cut, --blackhole, --latency/--loss or --clear")
	case clear:
		return nil, nil
	case cut:
		return &v1alpha1.ZoneFault{Kind: v1alpha1.ZoneFaultCut}, nil
	case blackhole:
		return &v1alpha1.ZoneFault{Kind: v1alpha1.ZoneFaultBlackhole}, nil
	}
	if latency < 0 || latency > 5*time.Second || latency%time.Millisecond != 0 {
		return nil, clikit.Usagef("--latency must be whole milliseconds from 0 to 5s, got %s", latency)
	}
	if loss < 0 || loss > 100 {
		return nil, clikit.Usagef("--loss must be from 0 to 100, got %d", loss)
	}
	// Both were checked above: at most 5000 and at most 100.
	return &v1alpha1.ZoneFault{Kind: v1alpha1.ZoneFaultDegrade,
		LatencyMilliseconds: int32(latency.Milliseconds()), LossPercent: int32(loss)}, nil //nolint:gosec // G115: bounded above
}

// describeFault says what a fault does, for the CLI and cell list.
func describeFault(f v1alpha1.ZoneFault) string {
	if f.Kind != v1alpha1.ZoneFaultDegrade {
		return f.Kind
	}
	return fmt.Sprintf("degrade (%dms latency, %d%% loss)", f.LatencyMilliseconds, f.LossPercent)
}
