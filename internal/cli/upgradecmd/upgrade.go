package upgradecmd

import (
	"context"
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/cellplane/cellplane/internal/cli/clikit"
	"github.com/cellplane/cellplane/internal/client"
	"github.com/cellplane/cellplane/internal/eks"
	"github.com/cellplane/cellplane/internal/poll"
)

// New returns the upgrade, rollback and cancel-update commands.
func New(g *clikit.Globals) []*cobra.Command {
	return []*cobra.Command{newUpgrade(g), newRollback(g), newCancel(g)}
}

func newUpgrade(g *clikit.Globals) *cobra.Command {
	var in eks.UpdateClusterVersionInput
	var wait bool
	var timeout time.Duration
	cmd := &cobra.Command{
		Use:   "upgrade NAME --version MINOR",
		Short: "Upgrade a cluster's control plane in place to the next Kubernetes minor (a full backup first, then one member at a time)",
		Args:  clikit.ExactlyOne("cluster name"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if in.Version == "" {
				return clikit.Usagef("--version is required: name the next minor, e.g. 1.37")
			}
			return run(cmd, g, args[0], in, wait, timeout)
		},
	}
	f := cmd.Flags()
	f.StringVar(&in.Version, "version", "", "the Kubernetes minor to upgrade to (the next one)")
	f.BoolVar(&in.Force, "force", false, "upgrade even though upgrade insights are in ERROR")
	f.StringVar(&in.ClientRequestToken, "client-request-token", "", "idempotency token: a retry with the same token returns the same update")
	f.BoolVar(&wait, "wait", false, "wait until the update has ended, showing its progress")
	f.DurationVar(&timeout, "timeout", 15*time.Minute, "how long --wait waits")
	return cmd
}

func newRollback(g *clikit.Globals) *cobra.Command {
	var in eks.UpdateClusterVersionInput
	var minutes int32
	var wait bool
	var timeout time.Duration
	cmd := &cobra.Command{
		Use:   "rollback NAME --version MINOR",
		Short: "Roll a cluster back to the minor it ran before its last upgrade (within 7 days of it), keeping its data",
		Args:  clikit.ExactlyOne("cluster name"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if in.Version == "" {
				return clikit.Usagef("--version is required: name the minor the cluster ran before its last upgrade")
			}
			in.RollbackConfig = &eks.RollbackConfig{}
			if cmd.Flags().Changed("timeout-minutes") {
				in.RollbackConfig.TimeoutMinutes = &minutes
			}
			return run(cmd, g, args[0], in, wait, timeout)
		},
	}
	f := cmd.Flags()
	f.StringVar(&in.Version, "version", "", "the minor to go back to")
	f.Int32Var(&minutes, "timeout-minutes", eks.DefaultRollbackTimeoutMinutes, "rollbackConfig.timeoutMinutes (120 to 10080)")
	f.BoolVar(&wait, "wait", false, "wait until the rollback has ended, showing its progress")
	f.DurationVar(&timeout, "timeout", 15*time.Minute, "how long --wait waits")
	return cmd
}

func newCancel(g *clikit.Globals) *cobra.Command {
	return &cobra.Command{
		Use:   "cancel-update NAME UPDATE_ID",
		Short: "Cancel a version update still in progress: members already moved go back",
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) != 2 {
				return clikit.Usagef("%s needs a cluster name and an update ID, got %d arguments", cmd.CommandPath(), len(args))
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := g.Connect()
			if err != nil {
				return err
			}
			u, err := c.CancelUpdate(cmd.Context(), args[0], args[1])
			if err != nil {
				return err
			}
			return show(g, u)
		},
	}
}

// run starts the update and, with wait, follows it to its end.
func run(cmd *cobra.Command, g *clikit.Globals, name string, in eks.UpdateClusterVersionInput, wait bool, timeout time.Duration) error {
	c, err := g.Connect()
	if err != nil {
		return err
	}
	u, err := c.ChangeClusterVersion(cmd.Context(), name, in)
	if err != nil {
		return err
	}
	if wait {
		if u, err = follow(cmd.Context(), g, c, name, u.ID, timeout); err != nil {
			return err
		}
	}
	if err := show(g, u); err != nil {
		return err
	}
	if u.Status == eks.UpdateStatusFailed {
		return fmt.Errorf("update %s failed: %s", u.ID, errorsOf(u))
	}
	return nil
}

// follow polls the update, noting each step the cell reports, until it ends.
func follow(ctx context.Context, g *clikit.Globals, c *client.Client, name, id string, timeout time.Duration) (*eks.Update, error) {
	var last *eks.Update
	seen := ""
	err := poll.Until(ctx, timeout, time.Second, func() error {
		u, err := c.DescribeUpdate(ctx, name, id)
		if err != nil {
			return err
		}
		last = u
		if p := u.Cellplane; p != nil && p.Message != seen {
			seen = p.Message
			g.Note("%s  %s\n", time.Now().Format("15:04:05"), p.Message)
		}
		if u.Status == eks.UpdateStatusInProgress {
			return fmt.Errorf("update %s still in progress: %s", id, seen)
		}
		return nil
	})
	return last, err
}

func show(g *clikit.Globals, u *eks.Update) error {
	if g.Output == "json" {
		return g.PrintJSON(eks.UpdateOutput{Update: u})
	}
	t := g.Table()
	t.Printf("UPDATE\tTYPE\tSTATUS\tPARAMS\tERRORS\n")
	params := ""
	for _, p := range u.Params {
		params += p.Type + "=" + p.Value + " "
	}
	t.Printf("%s\t%s\t%s\t%s\t%s\n", u.ID, u.Type, u.Status, params, errorsOf(u))
	return t.Flush()
}

func errorsOf(u *eks.Update) string {
	out := ""
	for _, e := range u.Errors {
		out += e.ErrorMessage + " "
	}
	return out
}
