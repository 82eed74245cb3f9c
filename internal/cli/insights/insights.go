package insights

import (
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/cellplane/cellplane/internal/cli/clikit"
	"github.com/cellplane/cellplane/internal/client"
	"github.com/cellplane/cellplane/internal/eks"
	"github.com/cellplane/cellplane/internal/poll"
)

// New is `cluster insights NAME`.
func New(g *clikit.Globals) *cobra.Command {
	var id string
	var refresh bool
	cmd := &cobra.Command{
		Use:   "insights NAME",
		Short: "Show a cluster's upgrade insights (deprecated API use, version skew, add-ons); --id describes one, --refresh recomputes them first",
		Args:  clikit.ExactlyOne("cluster name"),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := g.Connect()
			if err != nil {
				return err
			}
			if refresh {
				if err := waitRefresh(cmd, g, c, args[0]); err != nil {
					return err
				}
			}
			if id != "" {
				ins, err := c.DescribeInsight(cmd.Context(), args[0], id)
				if err != nil {
					return err
				}
				return g.PrintJSON(map[string]any{"insight": ins})
			}
			list, err := c.ListInsights(cmd.Context(), args[0], nil)
			if err != nil {
				return err
			}
			return show(g, list)
		},
	}
	cmd.Flags().StringVar(&id, "id", "", "describe the insight with this ID (JSON)")
	cmd.Flags().BoolVar(&refresh, "refresh", false, "refresh the insights and wait for the refresh before showing them")
	return cmd
}

// waitRefresh starts a refresh and waits until it has ended.
func waitRefresh(cmd *cobra.Command, g *clikit.Globals, c *client.Client, name string) error {
	ctx := cmd.Context()
	if _, err := c.StartInsightsRefresh(ctx, name); err != nil {
		return err
	}
	return poll.Until(ctx, 5*time.Minute, time.Second, func() error {
		d, err := c.DescribeInsightsRefresh(ctx, name)
		switch {
		case err != nil:
			return poll.Permanent(err)
		case d.Status == eks.InsightsRefreshFailed:
			return poll.Permanent(fmt.Errorf("the insights refresh failed: %s", d.Message))
		case d.Status != eks.InsightsRefreshCompleted:
			return fmt.Errorf("the insights refresh is %s", d.Status)
		}
		g.Note("%s\n", d.Message)
		return nil
	})
}

// show prints the insights as JSON or as a table.
func show(g *clikit.Globals, list []eks.InsightSummary) error {
	if g.Output == "json" {
		return g.PrintJSON(map[string]any{"insights": list})
	}
	t := g.Table()
	t.Printf("ID\tNAME\tVERSION\tSTATUS\tREASON\n")
	for _, i := range list {
		st := eks.InsightStatus{}
		if i.InsightStatus != nil {
			st = *i.InsightStatus
		}
		t.Printf("%s\t%s\t%s\t%s\t%s\n", i.ID, i.Name, i.KubernetesVersion, st.Status, st.Reason)
	}
	return t.Flush()
}
