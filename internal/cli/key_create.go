package cli

import "github.com/spf13/cobra"

func newKeyCreate(g *globals) *cobra.Command {
	var description string
	cmd := &cobra.Command{
		Use:   "create",
		Short: "Create an enabled key; give its ARN to 'cluster create --encryption-key' or 'cluster encrypt'",
		Args:  noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := g.connect()
			if err != nil {
				return err
			}
			k, err := c.CreateKey(cmd.Context(), description)
			if err != nil {
				return err
			}
			return g.showKey(k)
		},
	}
	cmd.Flags().StringVar(&description, "description", "", "what the key is for")
	return cmd
}
