package componentscmd

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/cellplane/cellplane/internal/cli/clikit"
	"github.com/cellplane/cellplane/internal/components"
)

// New is the components command group.
func New(g *clikit.Globals) *cobra.Command {
	cmd := &cobra.Command{Use: "components", Short: "Manage the upstream binaries cellplane runs"}
	cmd.AddCommand(newComponentsBuild(g), newComponentsList(g))
	clikit.AsGroup(cmd)
	return cmd
}

func newComponentsBuild(g *clikit.Globals) *cobra.Command {
	var sumFile, cacheDir string
	var minors []string
	var all, withTools, withMinIO, withDex, withCoreDNS, withNode bool
	cmd := &cobra.Command{
		Use:   "build",
		Short: "Build etcd and Kubernetes releases into the cache (once per version)",
		Long: `Build etcd and the control plane binaries of Kubernetes releases into the cache,
once per version. Without --release it builds the default release; any other
release is also built on first use by the first cluster that runs it.`,
		Args: clikit.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			rels, err := releasesToBuild(minors, all)
			if err != nil {
				return err
			}
			c := components.New(components.Config{CacheDir: cacheDir, Progress: g.Stderr, SumFile: sumFile})
			if _, err := c.Etcd(cmd.Context()); err != nil {
				return err
			}
			for _, r := range rels {
				if _, err := c.Kubernetes(cmd.Context(), r); err != nil {
					return err
				}
				if withTools {
					if _, err := c.Tools(cmd.Context(), r); err != nil {
						return err
					}
				}
				if withNode {
					if _, err := c.Node(cmd.Context(), r); err != nil {
						return err
					}
				}
			}
			if withMinIO {
				if _, err := c.MinIO(cmd.Context()); err != nil {
					return err
				}
			}
			if withDex {
				if _, err := c.Dex(cmd.Context()); err != nil {
					return err
				}
			}
			if withCoreDNS {
				if _, err := c.CoreDNS(cmd.Context()); err != nil {
					return err
				}
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&cacheDir, "cache-dir", components.DefaultCacheDir(), "where built binaries are kept")
	cmd.Flags().StringSliceVar(&minors, "release", nil, "Kubernetes minor or version to build (repeatable; default: the default release)")
	cmd.Flags().BoolVar(&all, "all", false, "build every offered Kubernetes release")
	cmd.Flags().BoolVar(&withTools, "with-tools", false, "also build each release's kubectl and kubemark (hollow nodes)")
	cmd.Flags().BoolVar(&withMinIO, "with-minio", false, "also build MinIO, the S3 server the end-to-end tests run")
	cmd.Flags().BoolVar(&withDex, "with-dex", false, "also build dex, the OIDC issuer of the identity provider end-to-end test")
	cmd.Flags().BoolVar(&withCoreDNS, "with-coredns", false, "also build CoreDNS, which the CoreDNS add-on's node image runs")
	cmd.Flags().BoolVar(&withNode, "with-node", false, "also build each release's kubelet and kube-proxy, which real nodes run")
	cmd.Flags().StringVar(&sumFile, "record-sums", "", "merge the module checksums the build used into this go.sum-format file")
	return cmd
}

// releasesToBuild resolves --release and --all to releases, oldest first.
func releasesToBuild(minors []string, all bool) ([]components.Release, error) {
	switch {
	case all && len(minors) > 0:
		return nil, fmt.Errorf("--all and --release exclude each other: name releases or ask for all")
	case all:
		return components.Releases(), nil
	case len(minors) == 0:
		return []components.Release{components.Default()}, nil
	}
	var out []components.Release
	for _, m := range minors {
		r, err := components.Lookup(m)
		if err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, nil
}

func newComponentsList(g *clikit.Globals) *cobra.Command {
	return &cobra.Command{
		Use:   "list",
		Short: "List the offered Kubernetes versions",
		Args:  clikit.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			for _, r := range components.Releases() {
				g.Printf("%s\t%s\tetcd %s\n", r.Minor, r.Version, r.Etcd)
			}
			return nil
		},
	}
}
