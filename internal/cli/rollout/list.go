package rollout

import (
	"github.com/spf13/cobra"

	"github.com/cellplane/cellplane/internal/cli/clikit"
)

func newList(g *clikit.Globals) *cobra.Command {
	return &cobra.Command{
		Use:   "list",
		Short: "List platform rollouts, newest first, with their state and wave",
		Args:  clikit.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			r, err := rollouts(g)
			if err != nil {
				return err
			}
			list, err := r.List(cmd.Context())
			if err != nil {
				return err
			}
			if g.Output == "json" {
				return g.PrintJSON(map[string]any{"rollouts": list})
			}
			w := g.Table()
			w.Println("NAME\tMINOR\tVERSION\tSTATE\tPROGRESS")
			for i := range list {
				ro := &list[i]
				w.Printf("%s\t%s\t%s\t%s\t%s\n", ro.Name, ro.Spec.Minor, ro.Spec.PlatformVersion, state(ro), progress(ro))
			}
			return w.Flush()
		},
	}
}
