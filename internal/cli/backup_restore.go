package cli

import (
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/cellplane/cellplane/api/v1alpha1"
	"github.com/cellplane/cellplane/internal/cli/clikit"
	"github.com/cellplane/cellplane/internal/operator"
)

// restoreFlags are the flags of `backup restore`.
type restoreFlags struct {
	revision int64
	set      string
	yes      bool
	wait     bool
	timeout  time.Duration
}

func newBackupRestore(g *globals, f *backupFlags) *cobra.Command {
	var r restoreFlags
	cmd := &cobra.Command{
		Use:   "restore CLUSTER --yes",
		Short: "Restore a cluster's etcd in place from its backups (destructive)",
		Long: `Restore the etcd of a running cluster in place from its backups: the cell stops
its etcd members, restores the newest full at or before the revision into them,
starts etcd again and replays the incrementals up to the revision. The cluster
keeps its name, endpoint and certificates, but its data goes back to that
revision: every write after it is lost. Hence --yes.

Without --revision the newest revision the backups cover is restored; without
--set the cluster's own backup set (its current UID, as 'cellplane backup list'
shows). The cluster must be ACTIVE, and one restore runs at a time. With --wait
(the default) the command shows each step and fails if the restore fails;
--wait=false returns once the request is made.

cellplane also restores a cluster in place by itself when a majority of its
etcd members lose their data.`,
		Args: clikit.ExactlyOne("cluster name"),
		RunE: func(cmd *cobra.Command, args []string) error { return g.restore(cmd, f, r, args[0]) },
	}
	cmd.Flags().Int64Var(&r.revision, "revision", 0, "restore to etcd revision `N` (default: the newest the backups cover)")
	cmd.Flags().StringVar(&r.set, "set", "", "restore from the backup set with this `UID`, as 'cellplane backup list' shows (default: the cluster's own)")
	cmd.Flags().BoolVar(&r.yes, "yes", false, "confirm that writes after the restored revision are lost")
	cmd.Flags().BoolVar(&r.wait, "wait", true, "wait until the restore is done, showing progress")
	cmd.Flags().DurationVar(&r.timeout, "timeout", 10*time.Minute, "how long --wait waits")
	return cmd
}

// restore checks the command line before touching anything: without --yes
// nothing is read or requested.
func (g *globals) restore(cmd *cobra.Command, f *backupFlags, r restoreFlags, name string) error {
	if err := g.CheckOutput(); err != nil {
		return err
	}
	if r.revision < 0 {
		return clikit.Usagef("--revision must be 0 (the newest the backups cover) or a positive etcd revision, got %d", r.revision)
	}
	if !r.yes {
		return clikit.Usagef("restoring replaces the etcd data of cluster %s with its backup's: every write after the restored revision is lost. Run again with --yes to go ahead", name)
	}
	b, err := g.backups()
	if err != nil {
		return err
	}
	req, err := b.RequestRestore(cmd.Context(), f.account, name, r.revision, r.set)
	if err != nil {
		return err
	}
	g.Note("restore of cluster %s %s requested (ID %s)\n", name, restoreTarget(req), req.ID)
	if !r.wait {
		if g.Output == "json" {
			return g.PrintJSON(map[string]any{"request": req})
		}
		return nil
	}
	return g.waitRestored(cmd, b, f.account, name, req, r.timeout)
}

func restoreTarget(req v1alpha1.RestoreRequest) string {
	s := "to the newest revision backed up"
	if req.Revision > 0 {
		s = fmt.Sprintf("to revision %d", req.Revision)
	}
	if req.Set != "" {
		s += " from set " + req.Set
	}
	return s
}

// waitRestored polls status.restore until the cell answers req, printing each
// step once.
func (g *globals) waitRestored(cmd *cobra.Command, b *operator.Backups, account, name string, req v1alpha1.RestoreRequest, timeout time.Duration) error {
	ctx, cancel := contextWithTimeout(cmd, timeout)
	defer cancel()
	start := time.Now()
	var last string
	for {
		st, err := b.RestoreStatus(ctx, account, name)
		if err != nil {
			return err
		}
		if st != nil && st.RequestID == req.ID {
			if step := restoreStep(st); step != last {
				g.Note("  %6.1fs  %s\n", time.Since(start).Seconds(), step)
				last = step
			}
			if st.Phase == v1alpha1.RestorePhaseDone || st.Phase == v1alpha1.RestorePhaseFailed {
				return g.restoreResult(name, st, time.Since(start))
			}
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("waiting for the restore of %s (it goes on in the cell): %w", name, ctx.Err())
		case <-time.After(500 * time.Millisecond):
		}
	}
}

// restoreStep is one line of progress: the phase and the cell's message, or
// what the revisions say when the cell gave no message.
func restoreStep(st *v1alpha1.RestoreStatus) string {
	switch {
	case st.Message != "":
		return st.Phase + ": " + st.Message
	case st.Phase == v1alpha1.RestorePhaseRestoring && st.FullRevision > 0:
		return fmt.Sprintf("%s: the full at revision %d", st.Phase, st.FullRevision)
	case st.Phase == v1alpha1.RestorePhaseReplaying && st.Revision > 0:
		return fmt.Sprintf("%s: incrementals to revision %d", st.Phase, st.Revision)
	}
	return st.Phase
}

// restoreResult prints the summary, and the JSON status for scripts whatever
// the outcome; a failed restore is an error, so the exit code says it.
func (g *globals) restoreResult(name string, st *v1alpha1.RestoreStatus, took time.Duration) error {
	if g.Output == "json" {
		if err := g.PrintJSON(map[string]any{"restore": st}); err != nil {
			return err
		}
	}
	if st.Phase == v1alpha1.RestorePhaseFailed {
		return fmt.Errorf("restore of cluster %s failed: %s", name, st.Message)
	}
	if g.Output != "json" {
		g.Printf("cluster %s restored to revision %d (full at revision %d, set %s) in %s\n",
			name, st.Revision, st.FullRevision, st.Set, took.Round(100*time.Millisecond))
	}
	return nil
}
