package principal

import (
	"errors"
	"fmt"
	"io/fs"
	"os"

	"github.com/spf13/cobra"

	"github.com/cellplane/cellplane/internal/account"
	"github.com/cellplane/cellplane/internal/cli/clikit"
	"github.com/cellplane/cellplane/internal/pki"
)

func newUserKey(f *flags) *cobra.Command {
	cmd := &cobra.Command{Use: "key", Short: "Manage a user's access keys: create, list, delete"}
	cmd.AddCommand(newUserKeyCreate(f), newUserKeyList(f), newUserKeyDelete(f))
	clikit.AsGroup(cmd)
	return cmd
}

func newUserKeyCreate(f *flags) *cobra.Command {
	var credentialsFile, profile string
	cmd := &cobra.Command{
		Use:   "create USER",
		Short: "Create an access key of the user (the secret is shown once, or written to --credentials-file)",
		Args:  clikit.ExactlyOne("user name"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if credentialsFile != "" {
				if _, err := os.Stat(credentialsFile); !errors.Is(err, fs.ErrNotExist) {
					return clikit.Usagef("--credentials-file %s exists already; name a new file", credentialsFile)
				}
			}
			p, err := f.principals()
			if err != nil {
				return err
			}
			key, err := p.CreateKey(cmd.Context(), f.account, args[0])
			if err != nil {
				return err
			}
			if credentialsFile != "" {
				return writeProfile(f, credentialsFile, profileName(profile, args[0]), key)
			}
			if f.g.Output == "json" {
				return f.g.PrintJSON(map[string]any{"accessKey": key})
			}
			f.g.Printf("access key created for %s\naws_access_key_id = %s\naws_secret_access_key = %s\n",
				key.Principal, key.AccessKeyID, key.SecretAccessKey)
			f.g.Note("The secret key is shown only now; cellplane keeps it encrypted.\n")
			return nil
		},
	}
	cmd.Flags().StringVar(&credentialsFile, "credentials-file", "", "write the key as an AWS shared credentials file (a new file, mode 0600) instead of printing it")
	cmd.Flags().StringVar(&profile, "profile", "", "the profile name in --credentials-file (default: the user name)")
	return cmd
}

func profileName(profile, user string) string {
	if profile != "" {
		return profile
	}
	return user
}

// writeProfile writes the key as a new credentials file: the secret never
// reaches the terminal.
func writeProfile(f *flags, path, profile string, key account.AccessKey) error {
	creds := fmt.Sprintf("[%s]\naws_access_key_id = %s\naws_secret_access_key = %s\n", profile, key.AccessKeyID, key.SecretAccessKey)
	if err := pki.CreateFileAtomic(path, []byte(creds), 0o600); err != nil {
		return fmt.Errorf("access key %s created but not written (delete it and try again): %w", key.AccessKeyID, err)
	}
	if f.g.Output == "json" {
		key.SecretAccessKey = ""
		return f.g.PrintJSON(map[string]any{"accessKey": key, "credentialsFile": path, "profile": profile})
	}
	f.g.Printf("access key %s of %s written to %s as profile %s\n", key.AccessKeyID, key.Principal, path, profile)
	return nil
}

func newUserKeyList(f *flags) *cobra.Command {
	return &cobra.Command{
		Use:   "list USER",
		Short: "List the user's access keys and their status",
		Args:  clikit.ExactlyOne("user name"),
		RunE: func(cmd *cobra.Command, args []string) error {
			p, err := f.principals()
			if err != nil {
				return err
			}
			keys, err := p.ListKeys(cmd.Context(), f.account, args[0])
			if err != nil {
				return err
			}
			if f.g.Output == "json" {
				return f.g.PrintJSON(map[string]any{"accessKeys": keys})
			}
			w := f.g.Table()
			w.Println("ACCESS KEY ID\tSTATUS\tCREATED")
			for _, k := range keys {
				w.Printf("%s\t%s\t%s\n", k.AccessKeyID, k.Status, k.CreatedAt.Format(timeFormat))
			}
			return w.Flush()
		},
	}
}

func newUserKeyDelete(f *flags) *cobra.Command {
	return &cobra.Command{
		Use:   "delete USER ACCESS_KEY_ID",
		Short: "Delete one of the user's access keys for good",
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) != 2 {
				return clikit.Usagef("%s needs a user name and an access key ID, got %d arguments", cmd.CommandPath(), len(args))
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			p, err := f.principals()
			if err != nil {
				return err
			}
			if err := p.DeleteKey(cmd.Context(), f.account, args[0], args[1]); err != nil {
				return err
			}
			f.g.Printf("access key %s of user %s deleted\n", args[1], args[0])
			return nil
		},
	}
}
