package rollout

import (
	"strings"

	"github.com/spf13/cobra"

	"github.com/cellplane/cellplane/internal/cli/clikit"
)

func newDescribe(g *clikit.Globals) *cobra.Command {
	return &cobra.Command{
		Use:   "describe NAME",
		Short: "Show a rollout's waves, their clusters and the alarm that halted it",
		Args:  clikit.ExactlyOne("rollout name"),
		RunE: func(cmd *cobra.Command, args []string) error {
			r, err := rollouts(g)
			if err != nil {
				return err
			}
			ro, err := r.Get(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			if g.Output == "json" {
				return g.PrintJSON(ro)
			}
			g.Printf("Name:     %s\nMinor:    %s\nVersion:  %s\nState:    %s\nMessage:  %s\n",
				ro.Name, ro.Spec.Minor, ro.Spec.PlatformVersion, state(ro), ro.Status.Message)
			if a := ro.Status.Alarm; a != nil {
				g.Printf("Alarm:    %s on %s at %s: %s\n", a.Kind, a.Cluster, a.Time.UTC().Format("15:04:05"), a.Message)
			}
			w := g.Table()
			w.Println("\nWAVE\tCELL\tPHASE\tCLUSTERS")
			for i, wv := range ro.Status.Waves {
				var names []string
				for _, t := range wv.Targets {
					names = append(names, t.ClusterName)
				}
				mark := " "
				if i == int(ro.Status.CurrentWave) {
					mark = "*"
				}
				w.Printf("%s%s\t%s\t%s\t%s\n", mark, wv.Name, wv.Cell, wv.Phase, strings.Join(names, ","))
			}
			return w.Flush()
		},
	}
}
