package cli

import (
	"context"
	"sort"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/cellplane/cellplane/internal/client"
	"github.com/cellplane/cellplane/internal/eks"
)

func contextWithTimeout(cmd *cobra.Command, d time.Duration) (context.Context, context.CancelFunc) {
	return context.WithTimeout(cmd.Context(), d)
}

// waitActive waits for ACTIVE, printing each component as it becomes ready.
func (g *globals) waitActive(cmd *cobra.Command, c *client.Client, cl *eks.Cluster, timeout time.Duration) error {
	ctx, cancel := contextWithTimeout(cmd, timeout)
	defer cancel()
	start := time.Now()
	g.Note("creating cluster %s (Kubernetes %s)\n", cl.Name, cl.Version)
	p := &progress{g: g, start: start, seen: map[string]bool{}}
	done, err := client.WaitFor(ctx, c, cl.Name, func(x *eks.Cluster) bool { return x.Status == "ACTIVE" }, p.show)
	if err != nil {
		return err
	}
	g.Note("cluster %s is ACTIVE after %s: %s\n", done.Name, time.Since(start).Round(100*time.Millisecond), done.Endpoint)
	if g.Output == "json" {
		return g.PrintJSON(map[string]any{"cluster": g.operatorView(done)})
	}
	return nil
}

// progress prints what changed between polls, not every poll.
type progress struct {
	g     *globals
	start time.Time
	seen  map[string]bool
}

func (p *progress) show(cl *eks.Cluster) {
	if cl.Cellplane == nil {
		return
	}
	var ready []string
	for _, m := range cl.Cellplane.Components {
		if m.Ready && !p.seen[m.Name] {
			p.seen[m.Name] = true
			ready = append(ready, m.Name)
		}
	}
	if len(ready) == 0 {
		return
	}
	sort.Strings(ready)
	p.g.Note("  %6.1fs  ready: %s\n", time.Since(p.start).Seconds(), strings.Join(ready, ", "))
}
