package rollout

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/cellplane/cellplane/api/v1alpha1"
	"github.com/cellplane/cellplane/internal/cli/clikit"
	"github.com/cellplane/cellplane/internal/operator"
)

// New is the rollout command group.
func New(g *clikit.Globals) *cobra.Command {
	cmd := &cobra.Command{Use: "rollout", Short: "Roll platform versions out across cells in waves (operator)"}
	cmd.PersistentFlags().StringVarP(&g.Output, "output", "o", "table", "output format: table or json")
	cmd.AddCommand(newStart(g), newList(g), newDescribe(g), newSteer(g, "pause"), newSteer(g, "resume"), newSteer(g, "abort"),
		newVersions(g), newRegister(g))
	clikit.AsGroup(cmd)
	return cmd
}

func rollouts(g *clikit.Globals) (*operator.Rollouts, error) {
	if err := g.CheckOutput(); err != nil {
		return nil, err
	}
	return g.Operator().Rollouts()
}

// progress is "wave 2/5 cell-1 10% Baking".
func progress(ro *v1alpha1.PlatformRollout) string {
	st := ro.Status
	n := len(st.Waves)
	if n == 0 {
		return "-"
	}
	i := min(int(st.CurrentWave), n-1)
	w := st.Waves[i]
	return fmt.Sprintf("wave %d/%d %s %s", i+1, n, w.Name, w.Phase)
}

func state(ro *v1alpha1.PlatformRollout) string {
	if ro.Status.State == "" {
		return "Starting"
	}
	return ro.Status.State
}
