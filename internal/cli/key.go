package cli

import (
	"time"

	"github.com/spf13/cobra"

	"github.com/cellplane/cellplane/internal/client"
)

func newKey(g *globals) *cobra.Command {
	cmd := &cobra.Command{Use: "key", Short: "Manage the account's keys in the region's key service (the AWS KMS API)"}
	cmd.PersistentFlags().StringVarP(&g.output, "output", "o", "table", "output format: table or json")
	cmd.AddCommand(newKeyCreate(g), newKeyList(g), newKeyDescribe(g), newKeyDisable(g), newKeyEnable(g), newKeyRotate(g))
	asGroup(cmd)
	return cmd
}

// keyArg accepts exactly one key ID or ARN.
var keyArg = exactlyOne("key ID or ARN")

// showKey prints one key as a table row or as KMS's KeyMetadata.
func (g *globals) showKey(k *client.Key) error {
	if g.output == "json" {
		return g.printJSON(map[string]any{"KeyMetadata": k})
	}
	g.printf("%-36s  %-8s  %s  %s\n", k.KeyID, k.KeyState, k.Created().Format(time.RFC3339), k.Arn)
	return nil
}
