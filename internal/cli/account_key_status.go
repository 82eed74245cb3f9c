package cli

import (
	"github.com/spf13/cobra"

	"github.com/cellplane/cellplane/internal/account"
)

func newAccountKeyStatus(g *globals, verb string, status account.KeyStatus) *cobra.Command {
	return &cobra.Command{
		Use:   verb + " ACCOUNT_ID ACCESS_KEY_ID",
		Short: "Set the access key " + string(status),
		Args:  accountAndKey,
		RunE: func(cmd *cobra.Command, args []string) error {
			a, err := g.accounts()
			if err != nil {
				return err
			}
			key, err := a.SetKeyStatus(cmd.Context(), args[0], args[1], status)
			if err != nil {
				return err
			}
			if g.Output == "json" {
				return g.PrintJSON(map[string]any{"accessKey": key})
			}
			g.Printf("access key %s of account %s is %s\n", key.AccessKeyID, key.Account, key.Status)
			return nil
		},
	}
}

func newAccountKeyDelete(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "delete ACCOUNT_ID ACCESS_KEY_ID",
		Short: "Delete the access key for good",
		Args:  accountAndKey,
		RunE: func(cmd *cobra.Command, args []string) error {
			a, err := g.accounts()
			if err != nil {
				return err
			}
			if err := a.DeleteKey(cmd.Context(), args[0], args[1]); err != nil {
				return err
			}
			g.Printf("access key %s of account %s deleted\n", args[1], args[0])
			return nil
		},
	}
}
