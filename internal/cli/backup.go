package cli

import (
	"github.com/spf13/cobra"

	"github.com/cellplane/cellplane/api/v1alpha1"
	"github.com/cellplane/cellplane/internal/cli/clikit"
	"github.com/cellplane/cellplane/internal/operator"
)

// backupFlags are the flags every backup subcommand shares.
type backupFlags struct{ account string }

func newBackup(g *globals) *cobra.Command {
	var f backupFlags
	cmd := &cobra.Command{Use: "backup", Short: "List, take and restore backups of a cluster's etcd (operator)"}
	cmd.PersistentFlags().StringVarP(&g.Output, "output", "o", "table", "output format: table or json")
	cmd.PersistentFlags().StringVar(&f.account, "account", v1alpha1.DefaultAccount, "the account that owns the cluster")
	cmd.AddCommand(newBackupCreate(g, &f), newBackupList(g, &f), newBackupRestore(g, &f))
	clikit.AsGroup(cmd)
	return cmd
}

func (g *globals) backups() (*operator.Backups, error) {
	if err := g.CheckOutput(); err != nil {
		return nil, err
	}
	return g.Operator().Backups()
}
