package cli

import (
	"context"
	"time"

	"github.com/spf13/cobra"

	"github.com/cellplane/cellplane/api/v1alpha1"
	"github.com/cellplane/cellplane/internal/cli/clikit"
	"github.com/cellplane/cellplane/internal/eks"
)

func newClusterDescribe(g *globals) *cobra.Command {
	return describing(g, "describe NAME", "Show a cluster: status, endpoint and every component (with PIDs and addresses for the operator)", func(cl *eks.Cluster) error {
		return g.showCluster(g.operatorView(cl))
	})
}

// operatorView adds what only the operator may see (the cell, each
// component's address and PID, the backup location) to a cluster the
// regional API described: the API shows tenants a redacted view, so the
// details are read from the region's store with the data directory's
// credentials. Without them the tenant's view is shown, with a note why.
func (g *globals) operatorView(cl *eks.Cluster) *eks.Cluster {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	full, err := g.Operator().WithDetails(ctx, cl)
	if err != nil {
		g.Note("showing the tenant's view of cluster %s: the operator's details (cell, addresses, PIDs) are not readable: %v\n", cl.Name, err)
		return cl
	}
	return full
}

// describing is a command that describes the named cluster and shows it.
func describing(g *globals, use, short string, show func(*eks.Cluster) error) *cobra.Command {
	return &cobra.Command{
		Use:   use,
		Short: short,
		Args:  nameArg,
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := g.Connect()
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
	if g.Output == "json" {
		return g.PrintJSON(map[string]any{"cluster": cl})
	}
	w := g.Table()
	w.Printf("Name:\t%s\nARN:\t%s\nVersion:\t%s\nStatus:\t%s\nEndpoint:\t%s\nCreated:\t%s\n",
		cl.Name, cl.Arn, cl.Version, cl.Status, orDash(cl.Endpoint), age(cl)+" ago")
	if cl.DeletionProtection != nil {
		w.Printf("Deletion protection:\t%s\n", onOff(*cl.DeletionProtection))
	}
	if x := cl.Cellplane; x != nil {
		if x.Cell != "" {
			w.Printf("Cell:\t%s\n", x.Cell)
		}
		if x.Reason != "" {
			w.Printf("Reason:\t%s\n", x.Reason)
		}
		writeEtcdWork(w, x)
		if len(x.Components) > 0 && x.Cell == "" {
			w.Println("\nCOMPONENT\tZONE\tREADY\tRESTARTS")
			for _, m := range x.Components {
				w.Printf("%s\t%s\t%t\t%d\n", m.Name, m.Zone, m.Ready, m.Restarts)
			}
		} else if len(x.Components) > 0 {
			w.Println("\nCOMPONENT\tZONE\tADDRESS\tPID\tREADY\tRESTARTS")
			for _, m := range x.Components {
				w.Printf("%s\t%s\t%s\t%d\t%t\t%d\n", m.Name, m.Zone, m.Address, m.PID, m.Ready, m.Restarts)
			}
		}
	}
	return w.Flush()
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
func writeEtcdWork(w *clikit.Table, x *eks.Extension) {
	for _, c := range x.Conditions {
		if c.Type == v1alpha1.ConditionEtcdMembers && c.Status == "False" {
			w.Printf("Etcd members:\t%s: %s\n", c.Reason, c.Message)
		}
	}
	if m := x.EtcdMembership; m != nil {
		for _, r := range m.Replacements {
			when := "added " + agoOrNever(r.StartedAt)
			if r.PromotedAt != nil {
				when += ", promoted " + agoOrNever(r.PromotedAt)
			}
			w.Printf("Replaced member:\t%s as %s, %s (%s)\n", r.Member, orDash(r.LearnerID), r.Phase, when)
		}
	}
	if r := x.Restore; r != nil {
		w.Printf("Restore:\t%s (%s) from set %s: full at revision %d, incrementals to %d; started %s\n",
			r.Phase, r.Reason, orDash(r.Set), r.FullRevision, r.Revision, agoOrNever(r.StartedAt))
		if r.Message != "" {
			w.Printf("\t%s\n", r.Message)
		}
	}
}

func onOff(on bool) string {
	if on {
		return "on"
	}
	return "off"
}
