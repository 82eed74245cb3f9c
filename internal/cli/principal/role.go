package principal

import (
	"strings"

	"github.com/spf13/cobra"

	"github.com/cellplane/cellplane/internal/cli/clikit"
	"github.com/cellplane/cellplane/internal/iam"
)

// NewRole is the role command group.
func NewRole(g *clikit.Globals) *cobra.Command {
	f := &flags{g: g}
	cmd := &cobra.Command{
		Use:   "role",
		Short: "Manage an account's IAM roles and who may assume them (operator)",
		Long: `Manage an account's IAM roles (arn:aws:iam::<account>:role/<name>). A role's trust list
names the users and roles of its account that may assume it with 'aws sts assume-role'.
An entry names the principal that had the ARN when it was added: a principal deleted and
made again under the same name is not trusted until added again.`,
	}
	f.bind(cmd)
	cmd.AddCommand(newRoleCreate(f), newRoleList(f), newRoleDelete(f), newRoleTrust(f))
	clikit.AsGroup(cmd)
	return cmd
}

func newRoleCreate(f *flags) *cobra.Command {
	var trust []string
	cmd := &cobra.Command{
		Use:   "create NAME",
		Short: "Create a role that the principals given with --trust may assume",
		Args:  clikit.ExactlyOne("role name"),
		RunE: func(cmd *cobra.Command, args []string) error {
			p, err := f.principals()
			if err != nil {
				return err
			}
			r, err := p.CreateRole(cmd.Context(), f.account, args[0], trust)
			if err != nil {
				return err
			}
			return showRole(f, r, "created")
		},
	}
	cmd.Flags().StringSliceVar(&trust, "trust", nil, "ARN of a user or role of the account that may assume the role (repeat or comma-separate)")
	return cmd
}

func newRoleTrust(f *flags) *cobra.Command {
	var trust []string
	cmd := &cobra.Command{
		Use:   "trust NAME",
		Short: "Replace the role's trust list with the principals given with --trust (none: nobody)",
		Args:  clikit.ExactlyOne("role name"),
		RunE: func(cmd *cobra.Command, args []string) error {
			p, err := f.principals()
			if err != nil {
				return err
			}
			r, err := p.SetTrust(cmd.Context(), f.account, args[0], trust)
			if err != nil {
				return err
			}
			return showRole(f, r, "updated")
		},
	}
	cmd.Flags().StringSliceVar(&trust, "trust", nil, "ARN of a user or role of the account that may assume the role (repeat or comma-separate)")
	return cmd
}

func showRole(f *flags, r iam.Role, verb string) error {
	if f.g.Output == "json" {
		return f.g.PrintJSON(map[string]any{"role": r})
	}
	f.g.Printf("role %s %s: %s\ntrusted: %s\n", r.Name, verb, r.ARN, trustList(r))
	return nil
}

// trustList shows the entries, stale ones (principal deleted since) marked.
func trustList(r iam.Role) string {
	if len(r.Trust) == 0 {
		return "-"
	}
	out := make([]string, len(r.Trust))
	for i, t := range r.Trust {
		out[i] = t.ARN
		if !t.Current {
			out[i] += " (deleted)"
		}
	}
	return strings.Join(out, ",")
}

func newRoleList(f *flags) *cobra.Command {
	return &cobra.Command{
		Use:   "list",
		Short: "List the account's roles and who may assume them",
		Args:  clikit.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			p, err := f.principals()
			if err != nil {
				return err
			}
			roles, err := p.ListRoles(cmd.Context(), f.account)
			if err != nil {
				return err
			}
			if f.g.Output == "json" {
				return f.g.PrintJSON(map[string]any{"roles": roles})
			}
			w := f.g.Table()
			w.Println("NAME\tARN\tTRUSTED\tCREATED")
			for _, r := range roles {
				w.Printf("%s\t%s\t%s\t%s\n", r.Name, r.ARN, trustList(r), r.CreatedAt.Format(timeFormat))
			}
			return w.Flush()
		},
	}
}

func newRoleDelete(f *flags) *cobra.Command {
	return &cobra.Command{
		Use:   "delete NAME",
		Short: "Delete a role (credentials issued for it work until they expire)",
		Args:  clikit.ExactlyOne("role name"),
		RunE: func(cmd *cobra.Command, args []string) error {
			p, err := f.principals()
			if err != nil {
				return err
			}
			if err := p.DeleteRole(cmd.Context(), f.account, args[0]); err != nil {
				return err
			}
			f.g.Printf("role %s deleted\n", args[0])
			return nil
		},
	}
}
