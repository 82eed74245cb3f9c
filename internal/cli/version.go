package cli

import (
	"runtime/debug"

	"github.com/spf13/cobra"
)

func newVersion(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print cellplane's version",
		Args:  noArgs,
		RunE: func(*cobra.Command, []string) error {
			v := "devel"
			if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" {
				v = bi.Main.Version
			}
			g.printf("cellplane %s\n", v)
			return nil
		},
	}
}
