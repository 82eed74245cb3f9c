package rollout

import (
	"github.com/spf13/cobra"

	"github.com/cellplane/cellplane/internal/cli/clikit"
)

// newSteer is pause, resume or abort.
func newSteer(g *clikit.Globals, verb string) *cobra.Command {
	short := map[string]string{
		"pause":  "Hold a rollout where it is",
		"resume": "Let a paused rollout go on",
		"abort":  "Stop a rollout for good; its clusters keep the version they run",
	}[verb]
	return &cobra.Command{
		Use:   verb + " NAME",
		Short: short,
		Args:  clikit.ExactlyOne("rollout name"),
		RunE: func(cmd *cobra.Command, args []string) error {
			r, err := rollouts(g)
			if err != nil {
				return err
			}
			do := map[string]func() error{
				"pause":  func() error { return r.Pause(cmd.Context(), args[0]) },
				"resume": func() error { return r.Resume(cmd.Context(), args[0]) },
				"abort":  func() error { return r.Abort(cmd.Context(), args[0]) },
			}[verb]
			if err := do(); err != nil {
				return err
			}
			g.Printf("rollout %s: %s requested\n", args[0], verb)
			return nil
		},
	}
}
