package principal

import (
	"github.com/spf13/cobra"

	"github.com/cellplane/cellplane/api/v1alpha1"
	"github.com/cellplane/cellplane/internal/cli/clikit"
	"github.com/cellplane/cellplane/internal/operator"
)

// flags are the ones both groups share.
type flags struct {
	g       *clikit.Globals
	account string
}

func (f *flags) bind(cmd *cobra.Command) {
	cmd.PersistentFlags().StringVarP(&f.g.Output, "output", "o", "table", "output format: table or json")
	cmd.PersistentFlags().StringVar(&f.account, "account", v1alpha1.DefaultAccount, "ID of the account the principals belong to")
}

func (f *flags) principals() (*operator.Principals, error) {
	if err := f.g.CheckOutput(); err != nil {
		return nil, err
	}
	return f.g.Operator().Principals()
}

const timeFormat = "2006-01-02 15:04:05"
