package cli

import (
	"github.com/spf13/cobra"

	"github.com/cellplane/cellplane/internal/cli/clikit"
	"github.com/cellplane/cellplane/internal/operator"
)

func newAccount(g *globals) *cobra.Command {
	cmd := &cobra.Command{Use: "account", Short: "Manage the accounts that may use the regional API (operator)"}
	cmd.PersistentFlags().StringVarP(&g.Output, "output", "o", "table", "output format: table or json")
	cmd.AddCommand(newAccountCreate(g), newAccountList(g), newAccountDelete(g), newAccountLimit(g), newAccountKey(g))
	clikit.AsGroup(cmd)
	return cmd
}

func (g *globals) accounts() (*operator.Accounts, error) {
	if err := g.CheckOutput(); err != nil {
		return nil, err
	}
	return g.Operator().Accounts()
}

func newAccountCreate(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "create NAME",
		Short: "Create an account and its first access key (the secret is shown once)",
		Args:  clikit.ExactlyOne("account name"),
		RunE: func(cmd *cobra.Command, args []string) error {
			a, err := g.accounts()
			if err != nil {
				return err
			}
			acct, key, err := a.Create(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			if g.Output == "json" {
				return g.PrintJSON(map[string]any{"account": acct, "accessKey": key})
			}
			g.Printf("account %s (%s) created\naws_access_key_id = %s\naws_secret_access_key = %s\n",
				acct.ID, acct.Name, key.AccessKeyID, key.SecretAccessKey)
			g.Note("The secret key is shown only now; cellplane keeps it encrypted.\n")
			return nil
		},
	}
}

func newAccountList(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "list",
		Short: "List accounts",
		Args:  clikit.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			a, err := g.accounts()
			if err != nil {
				return err
			}
			accts, err := a.List(cmd.Context())
			if err != nil {
				return err
			}
			if g.Output == "json" {
				return g.PrintJSON(map[string]any{"accounts": accts})
			}
			w := g.Table()
			w.Println("ID\tNAME\tCREATED")
			for _, x := range accts {
				w.Printf("%s\t%s\t%s\n", x.ID, x.Name, x.CreatedAt.Format("2006-01-02 15:04:05"))
			}
			return w.Flush()
		},
	}
}

func newAccountDelete(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "delete ID",
		Short: "Delete an account and its access keys (it must own no clusters)",
		Args:  clikit.ExactlyOne("account ID"),
		RunE: func(cmd *cobra.Command, args []string) error {
			a, err := g.accounts()
			if err != nil {
				return err
			}
			if err := a.Delete(cmd.Context(), args[0]); err != nil {
				return err
			}
			g.Printf("account %s deleted\n", args[0])
			return nil
		},
	}
}
