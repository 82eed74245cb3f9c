package cli

import (
	"github.com/spf13/cobra"

	"github.com/cellplane/cellplane/internal/cli/clikit"
	"github.com/cellplane/cellplane/internal/components"
)

func newComponents(g *globals) *cobra.Command {
	cmd := &cobra.Command{Use: "components", Short: "Manage the upstream binaries cellplane runs"}
	cmd.AddCommand(newComponentsBuild(g), newComponentsList(g))
	clikit.AsGroup(cmd)
	return cmd
}

func newComponentsBuild(g *globals) *cobra.Command {
	var sumFile, cacheDir string
	var withMinIO, withDex, withCoreDNS, withNode bool
	cmd := &cobra.Command{
		Use:   "build",
		Short: "Build every offered Kubernetes release and etcd into the cache (once per version)",
		Args:  clikit.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c := components.New(components.Config{CacheDir: cacheDir, Progress: g.Stderr, SumFile: sumFile})
			if _, err := c.Etcd(cmd.Context()); err != nil {
				return err
			}
			for _, r := range components.Releases() {
				if _, err := c.Kubernetes(cmd.Context(), r); err != nil {
					return err
				}
			}
			if withNode {
				for _, r := range components.Releases() {
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
	cmd.Flags().BoolVar(&withMinIO, "with-minio", false, "also build MinIO, the S3 server the end-to-end tests run")
	cmd.Flags().BoolVar(&withDex, "with-dex", false, "also build dex, the OIDC issuer of the identity provider end-to-end test")
	cmd.Flags().BoolVar(&withCoreDNS, "with-coredns", false, "also build CoreDNS, which the CoreDNS add-on's node image runs")
	cmd.Flags().BoolVar(&withNode, "with-node", false, "also build every offered release's kubelet and kube-proxy, which real nodes run")
	cmd.Flags().StringVar(&sumFile, "record-sums", "", "merge the module checksums the build used into this go.sum-format file")
	return cmd
}

func newComponentsList(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "list",
		Short: "List the offered Kubernetes versions",
		Args:  clikit.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			for _, r := range components.Releases() {
				g.Printf("%s\t%s\n", r.Minor, r.Version)
			}
			g.Printf("etcd\t%s\n", components.EtcdVersion)
			return nil
		},
	}
}
