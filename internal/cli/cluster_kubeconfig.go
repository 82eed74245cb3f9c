package cli

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/cellplane/cellplane/internal/pki"
)

func newClusterKubeconfig(g *globals) *cobra.Command {
	var file string
	cmd := &cobra.Command{
		Use:   "kubeconfig NAME",
		Short: "Print an admin kubeconfig for the cluster (or write it with --output FILE)",
		Args:  nameArg,
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := g.Client()
			if err != nil {
				return err
			}
			data, err := c.Kubeconfig(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			if file == "" || file == "-" {
				_, err = g.Stdout.Write(data)
				return err
			}
			// It carries admin credentials: readable by its owner only.
			if err := pki.WriteFileAtomic(file, data, 0o600); err != nil {
				return fmt.Errorf("writing kubeconfig: %w", err)
			}
			g.Note("wrote the admin kubeconfig of %s to %s\n", args[0], file)
			return nil
		},
	}
	// --output here names a file, as the issue asks; it shadows the table/json flag.
	cmd.Flags().StringVarP(&file, "output", "o", "", "write the kubeconfig to this file instead of stdout")
	return cmd
}
