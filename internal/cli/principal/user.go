package principal

import (
	"github.com/spf13/cobra"

	"github.com/cellplane/cellplane/internal/cli/clikit"
)

// NewUser is the user command group.
func NewUser(g *clikit.Globals) *cobra.Command {
	f := &flags{g: g}
	cmd := &cobra.Command{
		Use:   "user",
		Short: "Manage an account's IAM users and their access keys (operator)",
		Long: `Manage an account's IAM users (arn:aws:iam::<account>:user/<name>) and their access keys.
Every account has the user "admin", which 'cellplane account key' manages the keys of.
A user holds at most two access keys; a user with keys cannot be deleted.`,
	}
	f.bind(cmd)
	cmd.AddCommand(newUserCreate(f), newUserList(f), newUserDelete(f), newUserKey(f))
	clikit.AsGroup(cmd)
	return cmd
}

func newUserCreate(f *flags) *cobra.Command {
	return &cobra.Command{
		Use:   "create NAME",
		Short: "Create a user without access keys",
		Args:  clikit.ExactlyOne("user name"),
		RunE: func(cmd *cobra.Command, args []string) error {
			p, err := f.principals()
			if err != nil {
				return err
			}
			u, err := p.CreateUser(cmd.Context(), f.account, args[0])
			if err != nil {
				return err
			}
			if f.g.Output == "json" {
				return f.g.PrintJSON(map[string]any{"user": u})
			}
			f.g.Printf("user %s created: %s\n", u.Name, u.ARN)
			return nil
		},
	}
}

func newUserList(f *flags) *cobra.Command {
	return &cobra.Command{
		Use:   "list",
		Short: "List the account's users",
		Args:  clikit.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			p, err := f.principals()
			if err != nil {
				return err
			}
			users, err := p.ListUsers(cmd.Context(), f.account)
			if err != nil {
				return err
			}
			if f.g.Output == "json" {
				return f.g.PrintJSON(map[string]any{"users": users})
			}
			w := f.g.Table()
			w.Println("NAME\tUSER ID\tARN\tCREATED")
			for _, u := range users {
				w.Printf("%s\t%s\t%s\t%s\n", u.Name, u.UserID, u.ARN, u.CreatedAt.Format(timeFormat))
			}
			return w.Flush()
		},
	}
}

func newUserDelete(f *flags) *cobra.Command {
	return &cobra.Command{
		Use:   "delete NAME",
		Short: "Delete a user that holds no access keys",
		Args:  clikit.ExactlyOne("user name"),
		RunE: func(cmd *cobra.Command, args []string) error {
			p, err := f.principals()
			if err != nil {
				return err
			}
			if err := p.DeleteUser(cmd.Context(), f.account, args[0]); err != nil {
				return err
			}
			f.g.Printf("user %s deleted\n", args[0])
			return nil
		},
	}
}
