package key

import (
	"github.com/spf13/cobra"

	"github.com/cellplane/cellplane/internal/cli/clikit"
)

func newCreate(g *clikit.Globals) *cobra.Command {
	var description string
	cmd := &cobra.Command{
		Use:   "create",
		Short: "Create an enabled key; give its ARN to 'cluster create --encryption-key' or 'cluster encrypt'",
		Args:  clikit.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := g.Connect()
			if err != nil {
				return err
			}
			k, err := c.CreateKey(cmd.Context(), description)
			if err != nil {
				return err
			}
			return show(g, k)
		},
	}
	cmd.Flags().StringVar(&description, "description", "", "what the key is for")
	return cmd
}
