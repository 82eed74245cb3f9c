package cli

import (
	"cmp"
	"log/slog"
	"strings"
	"time"

	"github.com/cellplane/cellplane/api/v1alpha1"
	"github.com/cellplane/cellplane/internal/cli/clikit"

	"github.com/spf13/cobra"

	"github.com/cellplane/cellplane/internal/cell"
	"github.com/cellplane/cellplane/internal/components"
	"github.com/cellplane/cellplane/internal/operator"
	"github.com/cellplane/cellplane/internal/placement"
)

func newCell(g *globals) *cobra.Command {
	cmd := &cobra.Command{Use: "cell", Short: "Show and steer the cells clusters are placed in (operator)"}
	cmd.PersistentFlags().StringVarP(&g.Output, "output", "o", "table", "output format: table or json")
	cmd.AddCommand(newCellList(g), newCellDrain(g), newCellUpdate(g), newCellRun(g))
	clikit.AsGroup(cmd)
	return cmd
}

func (g *globals) cells() (*operator.Cells, error) {
	if err := g.CheckOutput(); err != nil {
		return nil, err
	}
	return g.Operator().Cells()
}

// cellJSON is one cell in `cell list -o json`.
type cellJSON struct {
	Name      string     `json:"name"`
	State     string     `json:"state"`
	Clusters  int        `json:"clusters"`
	Capacity  int        `json:"capacity"`
	Draining  bool       `json:"draining"`
	Heartbeat *time.Time `json:"heartbeat,omitempty"`
	Reported  int32      `json:"reportedClusters"`
	PID       int        `json:"pid,omitempty"`
	// ZoneShifts are the zones shifted out of the cell.
	ZoneShifts []string `json:"zoneShifts,omitempty"`
	// Zones is the cell's zone health; Faults the zone faults it applied.
	Zones  []v1alpha1.ZoneHealth `json:"zones,omitempty"`
	Faults []v1alpha1.ZoneFault  `json:"faults,omitempty"`
	// Rollout is the platform rollout wave touching the cell now.
	Rollout string `json:"rollout,omitempty"`
}

func newCellList(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "list",
		Short: "List cells with their state, load and last heartbeat",
		Long: `List cells. STATE is what placement makes of the cell: Available, Full,
Draining, or Unreachable when its heartbeat is older than ` + placement.DefaultStaleAfter.String() + `.
CLUSTERS counts the clusters the region placed there, deleting ones included.
ZONES OUT lists zones shifted out by an operator and zones the cell's probes found
impaired (evacuated automatically until they heal); FAULTS the zone faults injected
with 'cellplane zone fault'.`,
		Args: clikit.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := g.cells()
			if err != nil {
				return err
			}
			views, err := c.List(cmd.Context())
			if err != nil {
				return err
			}
			touching, err := c.Rollouts(cmd.Context())
			if err != nil {
				return err
			}
			if g.Output == "json" {
				out := make([]cellJSON, len(views))
				for i, v := range views {
					out[i] = cellJSON{Name: v.Name, State: string(v.State), Clusters: v.Placed, Capacity: v.Capacity,
						Draining: v.Cell.Spec.Draining, Reported: v.Cell.Status.Clusters, PID: v.Cell.Status.PID,
						ZoneShifts: v.Cell.Spec.ZoneShifts, Zones: v.Cell.Status.Zones, Faults: v.Cell.Status.Faults, Rollout: touching[v.Name]}
					if hb := v.Cell.Status.HeartbeatTime; hb != nil {
						out[i].Heartbeat = &hb.Time
					}
				}
				return g.PrintJSON(map[string]any{"cells": out})
			}
			w := g.Table()
			w.Println("NAME\tSTATE\tCLUSTERS\tCAPACITY\tHEARTBEAT\tZONES OUT\tFAULTS\tROLLOUT")
			for _, v := range views {
				hb := "never"
				if v.Age >= 0 {
					hb = v.Age.Round(time.Second).String() + " ago"
				}
				w.Printf("%s\t%s\t%d\t%d\t%s\t%s\t%s\t%s\n", v.Name, v.State, v.Placed, v.Capacity, hb, zonesOut(v.Cell), faultsOf(v.Cell), cmp.Or(touching[v.Name], "-"))
			}
			return w.Flush()
		},
	}
}

func newCellDrain(g *globals) *cobra.Command {
	var undo bool
	cmd := &cobra.Command{
		Use:   "drain NAME",
		Short: "Stop placing new clusters in a cell (its clusters stay and keep serving)",
		Args:  clikit.ExactlyOne("cell name"),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := g.cells()
			if err != nil {
				return err
			}
			if err := c.SetDraining(cmd.Context(), args[0], !undo); err != nil {
				return err
			}
			if undo {
				g.Printf("cell %s takes new clusters again\n", args[0])
			} else {
				g.Printf("cell %s is draining: it gets no new clusters; its clusters keep serving\n", args[0])
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&undo, "undo", false, "end the drain: place new clusters in the cell again")
	return cmd
}

func newCellUpdate(g *globals) *cobra.Command {
	var capacity int
	cmd := &cobra.Command{
		Use:   "update NAME --capacity N",
		Short: "Change how many clusters the region places in a cell",
		Args:  clikit.ExactlyOne("cell name"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if !cmd.Flags().Changed("capacity") {
				return clikit.Usagef("nothing to update: give --capacity N")
			}
			if capacity < 0 {
				return clikit.Usagef("--capacity must be 0 or more, got %d", capacity)
			}
			c, err := g.cells()
			if err != nil {
				return err
			}
			if err := c.SetCapacity(cmd.Context(), args[0], capacity); err != nil {
				return err
			}
			g.Printf("cell %s capacity is %d\n", args[0], capacity)
			return nil
		},
	}
	cmd.Flags().IntVar(&capacity, "capacity", 0, "most clusters the region places in the cell")
	return cmd
}

// newCellRun is a cell's entry point; cellplane up launches one process per cell.
func newCellRun(g *globals) *cobra.Command {
	var cfg cell.Config
	cmd := &cobra.Command{
		Use:    "run",
		Short:  "Run one cell: its store, load balancer and controllers (started by cellplane up)",
		Hidden: true,
		Args:   clikit.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg.DataDir = g.DataDir
			cfg.Logger = slog.New(slog.NewTextHandler(g.Stderr, nil))
			// Credentials come only from the environment cellplane up gives the cell.
			backupCredentialsFromEnv(&cfg.Backup)
			return cell.Run(cmd.Context(), cfg)
		},
	}
	f := cmd.Flags()
	f.IntVar(&cfg.Index, "cell", 0, "the cell's number, from 1")
	f.StringVar(&cfg.CacheDir, "cache-dir", components.DefaultCacheDir(), "where built components are cached")
	f.DurationVar(&cfg.CreateTimeout, "create-timeout", 5*time.Minute, "how long a control plane may take to become healthy")
	addBackupFlags(f, &cfg.Backup)
	cfg.Tuning.AddFlags(f)
	_ = cmd.MarkFlagRequired("cell")
	return cmd
}

// zonesOut lists a cell's zones out of rotation: "a (shifted)", "b (impaired)".
func zonesOut(c *v1alpha1.Cell) string {
	var out []string
	for _, z := range c.Spec.ZoneShifts {
		out = append(out, z+" (shifted)")
	}
	for _, z := range c.Status.Zones {
		if z.Impaired {
			out = append(out, z.Zone+" (impaired)")
		}
	}
	return orDash(strings.Join(out, ", "))
}

// faultsOf lists the zone faults a cell applied: "a: blackhole".
func faultsOf(c *v1alpha1.Cell) string {
	var out []string
	for _, f := range c.Status.Faults {
		out = append(out, f.Zone+": "+describeFault(f))
	}
	return orDash(strings.Join(out, ", "))
}
