package rollout

import (
	"errors"
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/cellplane/cellplane/api/v1alpha1"
	"github.com/cellplane/cellplane/internal/cli/clikit"
	"github.com/cellplane/cellplane/internal/operator"
	"github.com/cellplane/cellplane/internal/poll"
)

var errNotDone = errors.New("rollout not over yet")

// waitFor shows a rollout's progress until it is over; a rollout that did
// not complete is an error.
func waitFor(cmd *cobra.Command, g *clikit.Globals, r *operator.Rollouts, name string) error {
	last := ""
	var ro *v1alpha1.PlatformRollout
	err := poll.UntilDone(cmd.Context(), time.Second, func() error {
		var err error
		if ro, err = r.Get(cmd.Context(), name); err != nil {
			return poll.Permanent(err)
		}
		if line := state(ro) + " " + progress(ro); line != last {
			g.Note("%s: %s\n", name, line)
			last = line
		}
		if !terminal(ro) {
			return errNotDone
		}
		return nil
	})
	if err != nil {
		return err
	}
	if ro.Status.State != v1alpha1.RolloutCompleted {
		return fmt.Errorf("rollout %s is %s: %s", name, ro.Status.State, ro.Status.Message)
	}
	g.Printf("rollout %s completed: %s\n", name, ro.Status.Message)
	return nil
}
