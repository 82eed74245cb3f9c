package cli

import (
	"encoding/json"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/cellplane/cellplane/internal/client"
)

func newCluster(g *globals) *cobra.Command {
	cmd := &cobra.Command{Use: "cluster", Short: "Create, inspect and delete Kubernetes control planes"}
	cmd.PersistentFlags().StringVarP(&g.output, "output", "o", "table", "output format: table or json")
	cmd.AddCommand(newClusterCreate(g), newClusterList(g), newClusterDescribe(g), newClusterDelete(g), newClusterKubeconfig(g), newClusterHealth(g), newClusterRotateKey(g), newClusterProtect(g), newClusterEncrypt(g))
	asGroup(cmd)
	return cmd
}

// nameArg accepts exactly one cluster name.
var nameArg = exactlyOne("cluster name")

// exactlyOne accepts one positional argument, described as what in the error.
func exactlyOne(what string) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if len(args) != 1 {
			return usagef("%s needs exactly one %s, got %d arguments", cmd.CommandPath(), what, len(args))
		}
		return nil
	}
}

func (g *globals) checkOutput() error {
	if g.output != "table" && g.output != "json" {
		return usagef("--output must be table or json, not %q", g.output)
	}
	return nil
}

// connect checks the output flag, then connects: the preamble of every cluster
// subcommand, so a bad flag fails before any network call.
func (g *globals) connect() (*client.Client, error) {
	if err := g.checkOutput(); err != nil {
		return nil, err
	}
	return g.client()
}

func (g *globals) printJSON(v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	_, err = fmt.Fprintln(g.stdout, string(b))
	return err
}
