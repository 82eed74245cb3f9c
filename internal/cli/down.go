package cli

import (
	"bufio"
	"context"
	"fmt"
	"log/slog"
	"os"
	"strings"

	"github.com/spf13/cobra"
	"golang.org/x/sys/unix"

	"github.com/cellplane/cellplane/internal/cli/clikit"
	"github.com/cellplane/cellplane/internal/down"
)

func newDown(g *globals) *cobra.Command {
	var yes bool
	cmd := &cobra.Command{
		Use:   "down",
		Short: "Stop everything cellplane runs on the data directory, tenant control planes included (data is kept)",
		Long: `Stop every process of the data directory: a running 'cellplane up' (asked to stop as
Ctrl-C does), then the cells, their load balancers, the management stores and the
tenant control planes, controllers before API servers before etcd. Processes are found
through the data directory's lock and pid files only, and a PID is signalled only while
it is still the process those files name.

Tenant control planes are your users' clusters: down lists them and asks before
stopping anything. --yes skips the question, for scripts; without --yes and without a
terminal to ask on, down stops nothing at all. The data is kept: 'cellplane up' starts
everything again, tenant clusters included. With nothing running, down succeeds.`,
		Args: clikit.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return g.down(cmd.Context(), yes) },
	}
	cmd.Flags().BoolVarP(&yes, "yes", "y", false, "stop tenant control planes without asking")
	return cmd
}

func (g *globals) down(ctx context.Context, yes bool) error {
	plan, err := down.Find(g.DataDir)
	if err != nil {
		return err
	}
	if plan.Empty() {
		g.Printf("nothing of cellplane runs on %s\n", g.DataDir)
		return nil
	}
	g.Note("running on %s: %s\n", g.DataDir, plan.Describe())
	confirm := g.confirmDown
	if yes {
		confirm = func(*down.Plan) (bool, error) { return true, nil }
	}
	res, err := down.Stop(ctx, plan, down.Options{
		Confirm:  confirm,
		Progress: g.Stderr,
		Logger:   slog.New(slog.NewTextHandler(g.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})),
	})
	if err != nil {
		return err
	}
	what := count(res.Processes, "process")
	if res.Up {
		what = "cellplane up and " + what
	}
	g.Printf("stopped %s on %s; the data is kept: 'cellplane up' starts everything again\n", what, g.DataDir)
	return nil
}

// confirmDown asks on the terminal before tenant control planes stop. Without a
// terminal there is no one to ask, so it refuses, and down stops nothing.
func (g *globals) confirmDown(p *down.Plan) (bool, error) {
	clusters, procs := p.Clusters(), len(p.Tenant())
	in, ok := g.Stdin.(*os.File)
	if !ok || !isTerminal(in) {
		return false, clikit.Usagef("%s (%s) run on %s and stdin is not a terminal to confirm on: pass --yes to stop them",
			count(len(clusters), "tenant cluster"), count(procs, "process"), g.DataDir)
	}
	g.Note("This stops %s (%s): %s\n"+
		"Their endpoints stop answering until 'cellplane up' runs again; their data is kept.\n"+
		"Stop them? [y/N] ", count(len(clusters), "tenant cluster"), count(procs, "process"), listSome(clusters, 10))
	line, err := bufio.NewReader(in).ReadString('\n')
	if err != nil && line == "" {
		return false, fmt.Errorf("reading the answer: %w", err)
	}
	answer := strings.ToLower(strings.TrimSpace(line))
	return answer == "y" || answer == "yes", nil
}

// listSome joins up to n items and counts the rest.
func listSome(items []string, n int) string {
	if len(items) <= n {
		return strings.Join(items, ", ")
	}
	return fmt.Sprintf("%s and %d more", strings.Join(items[:n], ", "), len(items)-n)
}

// count says "1 process", "2 processes".
func count(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	if strings.HasSuffix(noun, "s") {
		return fmt.Sprintf("%d %ses", n, noun)
	}
	return fmt.Sprintf("%d %ss", n, noun)
}

func isTerminal(f *os.File) bool {
	_, err := unix.IoctlGetTermios(int(f.Fd()), unix.TCGETS)
	return err == nil
}
