package rollout

import (
	"os"
	"strings"

	"github.com/spf13/cobra"
	"sigs.k8s.io/yaml"

	"github.com/cellplane/cellplane/api/v1alpha1"
	"github.com/cellplane/cellplane/internal/cli/clikit"
)

func newVersions(g *clikit.Globals) *cobra.Command {
	return &cobra.Command{
		Use:   "versions",
		Short: "List the platform versions: built in and registered",
		Args:  clikit.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			r, err := rollouts(g)
			if err != nil {
				return err
			}
			vs, err := r.Versions(cmd.Context())
			if err != nil {
				return err
			}
			if g.Output == "json" {
				return g.PrintJSON(map[string]any{"platformVersions": vs})
			}
			w := g.Table()
			w.Println("NAME\tMINORS\tDESCRIPTION")
			for _, v := range vs {
				w.Printf("%s\t%s\t%s\n", v.Name, strings.Join(v.Minors, ","), v.Description)
			}
			return w.Flush()
		},
	}
}

func newRegister(g *clikit.Globals) *cobra.Command {
	return &cobra.Command{
		Use:   "register FILE",
		Short: "Register a platform version from a YAML or JSON file (a PlatformVersion)",
		Long: `Register a platform version: a file holding a PlatformVersion, e.g.

  apiVersion: cellplane.io/v1alpha1
  kind: PlatformVersion
  metadata: {name: cellplane.3}
  spec:
    minors: ["1.37"]
    description: what it changes
    args:
    - component: kube-apiserver
      args: ["--max-requests-inflight=800"]

Registered versions cannot be changed: register a change under a new name.`,
		Args: clikit.ExactlyOne("file"),
		RunE: func(cmd *cobra.Command, args []string) error {
			data, err := os.ReadFile(args[0])
			if err != nil {
				return clikit.Usage(err)
			}
			var pv v1alpha1.PlatformVersion
			if err := yaml.UnmarshalStrict(data, &pv); err != nil {
				return clikit.Usagef("%s is not a PlatformVersion: %v", args[0], err)
			}
			if pv.Kind != "" && pv.Kind != "PlatformVersion" {
				return clikit.Usagef("%s holds a %s, not a PlatformVersion", args[0], pv.Kind)
			}
			r, err := rollouts(g)
			if err != nil {
				return err
			}
			if err := r.Register(cmd.Context(), &pv); err != nil {
				return err
			}
			g.Printf("platform version %s registered for %s\n", pv.Name, strings.Join(pv.Spec.Minors, ", "))
			return nil
		},
	}
}
