package cli

import (
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/cellplane/cellplane/api/v1alpha1"
)

func newClusterRotateKey(g *globals) *cobra.Command {
	var account string
	var wait bool
	var timeout time.Duration
	cmd := &cobra.Command{
		Use:   "rotate-secrets-key CLUSTER",
		Short: "Rotate the key a cluster's Secrets are encrypted under (operator)",
		Long: `Ask the cell that runs the cluster to rotate the cluster's key for Secrets: its KMS
plugins get a new key, every API server seals new data keys under it, every Secret is
rewritten under it, and only then are the old keys dropped, with no downtime. Works
on the data directory, as the other operator commands do. With --wait the command
returns once the old keys are gone.`,
		Args: nameArg,
		RunE: func(cmd *cobra.Command, args []string) error {
			op := g.Operator()
			before, err := op.SecretsEncryption(cmd.Context(), account, args[0])
			if err != nil {
				return err
			}
			if _, err := op.RotateSecretsKey(cmd.Context(), account, args[0]); err != nil {
				return err
			}
			g.Note("key rotation of %s requested\n", args[0])
			if !wait {
				return nil
			}
			ctx, cancel := contextWithTimeout(cmd, timeout)
			defer cancel()
			last := ""
			for {
				cond, err := op.SecretsEncryption(ctx, account, args[0])
				if err != nil {
					return err
				}
				// Done: not rotating, one key held, and not the one before.
				if cond != nil && cond.Reason != "Rotating" && strings.Contains(cond.Message, "(1 keys held)") && !sameKey(before, cond) {
					g.Printf("%s: %s\n", args[0], cond.Message)
					return nil
				}
				if cond != nil && cond.Message != last {
					last = cond.Message
					g.Note("  %s\n", cond.Message)
				}
				select {
				case <-ctx.Done():
					return fmt.Errorf("waiting for the key rotation of %s: %w", args[0], ctx.Err())
				case <-time.After(time.Second):
				}
			}
		},
	}
	cmd.Flags().StringVar(&account, "account", v1alpha1.DefaultAccount, "the account that owns the cluster")
	cmd.Flags().BoolVar(&wait, "wait", false, "wait until every Secret is sealed under the new key and the old keys are gone")
	cmd.Flags().DurationVar(&timeout, "timeout", 10*time.Minute, "how long --wait waits")
	return cmd
}

// sameKey reports whether two SecretsEncryption conditions name the same key:
// their messages start alike up to the count of keys held.
func sameKey(a, b *metav1.Condition) bool {
	if a == nil || b == nil {
		return false
	}
	ka, _, _ := strings.Cut(a.Message, " (")
	kb, _, _ := strings.Cut(b.Message, " (")
	return ka == kb
}
