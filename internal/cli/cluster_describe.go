package cli

import (
	"time"

	"github.com/spf13/cobra"

	"github.com/cellplane/cellplane/api/v1alpha1"
	"github.com/cellplane/cellplane/internal/eks"
)

func newClusterDescribe(g *globals) *cobra.Command {
	return describing(g, "describe NAME", "Show a cluster: status, endpoint and every component", g.showCluster)
}

// describing is a command that describes the named cluster and shows it.
func describing(g *globals, use, short string, show func(*eks.Cluster) error) *cobra.Command {
	return &cobra.Command{
		Use:   use,
		Short: short,
		Args:  nameArg,
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := g.connect()
			if err != nil {
				return err
			}
			cl, err := c.DescribeCluster(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			return show(cl)
		},
	}
}

// showCluster prints one cluster as JSON or as a human-readable summary.
func (g *globals) showCluster(cl *eks.Cluster) error {
	if g.output == "json" {
		return g.printJSON(map[string]any{"cluster": cl})
	}
	w := g.table()
	w.printf("Name:\t%s\nARN:\t%s\nVersion:\t%s\nStatus:\t%s\nEndpoint:\t%s\nCreated:\t%s\n",
		cl.Name, cl.Arn, cl.Version, cl.Status, orDash(cl.Endpoint), age(cl)+" ago")
	if x := cl.Cellplane; x != nil {
		w.printf("Cell:\t%s\n", x.Cell)
		if x.Reason != "" {
			w.printf("Reason:\t%s\n", x.Reason)
		}
		writeEtcdWork(w, x)
		if len(x.Components) > 0 {
			w.println("\nCOMPONENT\tZONE\tADDRESS\tPID\tREADY\tRESTARTS")
			for _, m := range x.Components {
				w.printf("%s\t%s\t%s\t%d\t%t\t%d\n", m.Name, m.Zone, m.Address, m.PID, m.Ready, m.Restarts)
			}
		}
	}
	return w.flush()
}

func age(cl *eks.Cluster) string {
	if cl.CreatedAt == nil {
		return "-"
	}
	return time.Since(cl.CreatedAt.Time()).Round(time.Second).String()
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// writeEtcdWork shows etcd's orchestration: a member replacement or a
// restore in progress, and the history behind the members' identities.
func writeEtcdWork(w *table, x *eks.Extension) {
	for _, c := range x.Conditions {
		if c.Type == v1alpha1.ConditionEtcdMembers && c.Status == "False" {
			w.printf("Etcd members:\t%s: %s\n", c.Reason, c.Message)
		}
	}
	if m := x.EtcdMembership; m != nil {
		for _, r := range m.Replacements {
			when := "added " + agoOrNever(r.StartedAt)
			if r.PromotedAt != nil {
				when += ", promoted " + agoOrNever(r.PromotedAt)
			}
			w.printf("Replaced member:\t%s as %s, %s (%s)\n", r.Member, orDash(r.LearnerID), r.Phase, when)
		}
	}
	if r := x.Restore; r != nil {
		w.printf("Restore:\t%s (%s) from set %s: full at revision %d, incrementals to %d; started %s\n",
			r.Phase, r.Reason, orDash(r.Set), r.FullRevision, r.Revision, agoOrNever(r.StartedAt))
		if r.Message != "" {
			w.printf("\t%s\n", r.Message)
		}
	}
}
