package cli

import (
	"github.com/spf13/cobra"

	"github.com/cellplane/cellplane/internal/datadir"
)

func newAccountKeyRotate(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "rotate ACCOUNT_ID ACCESS_KEY_ID",
		Short: "Replace an active key: create a new one, then deactivate the old one",
		Long: `Replace an active access key. The new key is created first (its secret is shown
once), then written into this data directory's AWS profile if the old key is the
profile's, and only then is the old key deactivated. The steps are separate writes: if
one fails, the new key is still shown and the old key stays active, so nothing is
locked out. Delete the old key once nothing uses it any more.`,
		Args: accountAndKey,
		RunE: func(cmd *cobra.Command, args []string) error {
			a, err := g.accounts()
			if err != nil {
				return err
			}
			rot, err := a.RotateKey(cmd.Context(), args[0], args[1])
			if rot.New.AccessKeyID == "" {
				return err
			}
			if g.Output == "json" {
				if jerr := g.PrintJSON(rot); jerr != nil {
					return jerr
				}
				return err
			}
			g.Printf("new access key for account %s\naws_access_key_id = %s\naws_secret_access_key = %s\n",
				rot.New.Account, rot.New.AccessKeyID, rot.New.SecretAccessKey)
			if rot.ProfileUpdated {
				g.Note("The profile %s now holds the new key.\n", datadir.AWSCredentialsFile(g.DataDir))
			}
			if err == nil {
				g.Note("Access key %s is Inactive; delete it once nothing uses it.\n", rot.Old.AccessKeyID)
			}
			return err
		},
	}
}
