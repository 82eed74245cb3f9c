package rollout

import (
	"time"

	"github.com/spf13/cobra"

	"github.com/cellplane/cellplane/api/v1alpha1"
	"github.com/cellplane/cellplane/internal/cli/clikit"
)

func newStart(g *clikit.Globals) *cobra.Command {
	var (
		spec        v1alpha1.PlatformRolloutSpec
		bake, apply time.Duration
		wait        bool
	)
	cmd := &cobra.Command{
		Use:   "start --minor 1.37 --version cellplane.N",
		Short: "Start rolling a platform version out to every cluster of a minor",
		Long: `Start a rollout: a canary cluster in the first cell, then growing shares of
each cell (--waves), one cell at a time, each wave baked for --bake once its
clusters run the version healthy. An alarm (a wave cluster's API error rate or
latency, as its cell measures it, rising over its own baseline, or a cluster not
running the version healthy within --apply-timeout) halts the rollout and rolls
the wave back.`,
		Args: clikit.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if spec.Minor == "" || spec.PlatformVersion == "" {
				return clikit.Usagef("give --minor and --version")
			}
			if bake < 0 || apply < 0 {
				return clikit.Usagef("--bake and --apply-timeout must not be negative")
			}
			spec.BakeSeconds, spec.ApplySeconds = int32(bake.Seconds()), int32(apply.Seconds())
			r, err := rollouts(g)
			if err != nil {
				return err
			}
			ro, err := r.Start(cmd.Context(), spec)
			if err != nil {
				return err
			}
			if !wait {
				if g.Output == "json" {
					return g.PrintJSON(ro)
				}
				g.Printf("rollout %s started: %s to the clusters of %s\n", ro.Name, spec.PlatformVersion, spec.Minor)
				return nil
			}
			return waitFor(cmd, g, r, ro.Name)
		},
	}
	f := cmd.Flags()
	f.StringVar(&spec.Minor, "minor", "", "the Kubernetes minor whose clusters move, e.g. 1.37")
	f.StringVar(&spec.PlatformVersion, "version", "", "the platform version to roll out, e.g. cellplane.2")
	f.StringSliceVar(&spec.Cells, "cells", nil, "cells in the order to visit (default: every cell by name)")
	f.Int32SliceVar(&spec.WavePercents, "waves", nil, "growing shares of each cell per wave, ending at 100 (default 10,50,100)")
	f.DurationVar(&bake, "bake", 0, "how long each wave is watched (default 5m)")
	f.DurationVar(&apply, "apply-timeout", 0, "how long a wave's clusters may take to run the version healthy (default 10m)")
	f.Int32Var(&spec.MaxErrorPercent, "max-error-percent", 0, "error-rate rise over baseline that halts, in points (default 5)")
	f.Int32Var(&spec.MaxLatencyFactor, "max-latency-factor", 0, "times its baseline a cluster's latency may reach (default 3)")
	f.BoolVar(&wait, "wait", false, "wait until the rollout completes, halts or is aborted, showing its progress")
	return cmd
}

func terminal(ro *v1alpha1.PlatformRollout) bool {
	switch ro.Status.State {
	case v1alpha1.RolloutCompleted, v1alpha1.RolloutHalted, v1alpha1.RolloutAborted:
		return true
	}
	return false
}
