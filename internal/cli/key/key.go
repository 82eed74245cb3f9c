package key

import (
	"time"

	"github.com/spf13/cobra"

	"github.com/cellplane/cellplane/internal/cli/clikit"
	"github.com/cellplane/cellplane/internal/client"
)

// New is the key command group: the account's keys in the region's key
// service, spoken over the AWS KMS API.
func New(g *clikit.Globals) *cobra.Command {
	cmd := &cobra.Command{Use: "key", Short: "Manage the account's keys in the region's key service (the AWS KMS API)"}
	cmd.PersistentFlags().StringVarP(&g.Output, "output", "o", "table", "output format: table or json")
	cmd.AddCommand(newCreate(g), newList(g), newDescribe(g), newDisable(g), newEnable(g), newRotate(g))
	clikit.AsGroup(cmd)
	return cmd
}

// keyArg accepts exactly one key ID or ARN.
var keyArg = clikit.ExactlyOne("key ID or ARN")

// show prints one key as a table row or as KMS's KeyMetadata.
func show(g *clikit.Globals, k *client.Key) error {
	if g.Output == "json" {
		return g.PrintJSON(map[string]any{"KeyMetadata": k})
	}
	g.Printf("%-36s  %-8s  %s  %s\n", k.KeyID, k.KeyState, k.Created().Format(time.RFC3339), k.Arn)
	return nil
}
