package cli

import (
	"github.com/spf13/cobra"

	"github.com/cellplane/cellplane/internal/cli/clikit"
)

func newClusterEncrypt(g *globals) *cobra.Command {
	var key, token string
	cmd := &cobra.Command{
		Use:   "encrypt NAME --key ARN",
		Short: "Bind an ACTIVE cluster's Secrets to a key of the key service (EKS AssociateEncryptionConfig; it cannot be undone)",
		Args:  nameArg,
		RunE: func(cmd *cobra.Command, args []string) error {
			if key == "" {
				return clikit.Usagef("--key is required: the ARN of a key, as 'cellplane key create' shows it")
			}
			c, err := g.Connect()
			if err != nil {
				return err
			}
			u, err := c.AssociateEncryptionConfig(cmd.Context(), args[0], key, token)
			if err != nil {
				return err
			}
			if g.Output == "json" {
				return g.PrintJSON(map[string]any{"update": u})
			}
			g.Printf("cluster %s: Secrets are being resealed under key %s (update %s, %s)\n", args[0], key, u.ID, u.Status)
			return nil
		},
	}
	cmd.Flags().StringVar(&key, "key", "", "ARN of the key")
	cmd.Flags().StringVar(&token, "client-request-token", "", "idempotency token: a retry with the same token returns the same update")
	return cmd
}
