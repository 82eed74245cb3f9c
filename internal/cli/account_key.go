package cli

import (
	"github.com/spf13/cobra"

	"github.com/cellplane/cellplane/internal/account"
	"github.com/cellplane/cellplane/internal/cli/clikit"
)

func newAccountKey(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "key",
		Short: "Manage an account's access keys: create, list, activate, deactivate, delete, rotate",
		Long: `Manage the access keys of an account's admin user (see 'cellplane user key' for
other users). A user holds at most two keys, active or not, which is what a rotation
needs. A deactivated or deleted key is refused by the regional API within milliseconds. The first account's key that this data directory's AWS profile
holds can only be rotated: 'rotate' writes the new key into the profile.`,
	}
	cmd.AddCommand(newAccountKeyCreate(g), newAccountKeyList(g),
		newAccountKeyStatus(g, "activate", account.KeyActive), newAccountKeyStatus(g, "deactivate", account.KeyInactive),
		newAccountKeyDelete(g), newAccountKeyRotate(g))
	clikit.AsGroup(cmd)
	return cmd
}

// accountAndKey accepts an account ID and an access key ID.
func accountAndKey(cmd *cobra.Command, args []string) error {
	if len(args) != 2 {
		return clikit.Usagef("%s needs an account ID and an access key ID, got %d arguments", cmd.CommandPath(), len(args))
	}
	return nil
}

func newAccountKeyCreate(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "create ACCOUNT_ID",
		Short: "Create an access key for the account (the secret is shown once)",
		Args:  clikit.ExactlyOne("account ID"),
		RunE: func(cmd *cobra.Command, args []string) error {
			a, err := g.accounts()
			if err != nil {
				return err
			}
			key, err := a.CreateKey(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			if g.Output == "json" {
				return g.PrintJSON(map[string]any{"accessKey": key})
			}
			g.Printf("access key created for account %s\naws_access_key_id = %s\naws_secret_access_key = %s\n",
				key.Account, key.AccessKeyID, key.SecretAccessKey)
			g.Note("The secret key is shown only now; cellplane keeps it encrypted.\n")
			return nil
		},
	}
}

func newAccountKeyList(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "list ACCOUNT_ID",
		Short: "List the account's access keys (every user's), their status and the user each signs for",
		Args:  clikit.ExactlyOne("account ID"),
		RunE: func(cmd *cobra.Command, args []string) error {
			a, err := g.accounts()
			if err != nil {
				return err
			}
			keys, err := a.ListKeys(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			if g.Output == "json" {
				return g.PrintJSON(map[string]any{"accessKeys": keys})
			}
			w := g.Table()
			w.Println("ACCESS KEY ID\tSTATUS\tCREATED\tPRINCIPAL")
			for _, k := range keys {
				w.Printf("%s\t%s\t%s\t%s\n", k.AccessKeyID, k.Status, k.CreatedAt.Format("2006-01-02 15:04:05"), k.Principal)
			}
			return w.Flush()
		},
	}
}
