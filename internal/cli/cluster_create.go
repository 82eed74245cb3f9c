package cli

import (
	"strings"
	"time"

	"github.com/spf13/cobra"
	"k8s.io/apimachinery/pkg/api/resource"

	"github.com/cellplane/cellplane/internal/cli/clikit"
	"github.com/cellplane/cellplane/internal/client"
	"github.com/cellplane/cellplane/internal/eks"
)

func newClusterCreate(g *globals) *cobra.Command {
	var in client.CreateClusterInput
	var tags []string
	var wait bool
	var timeout time.Duration
	var quota string
	var from eks.FromBackup
	var mode string
	var noBootstrap, noAddons bool
	cmd := &cobra.Command{
		Use:   "create NAME",
		Short: "Create a highly available control plane",
		Args:  nameArg,
		RunE: func(cmd *cobra.Command, args []string) error {
			in.Name = args[0]
			var err error
			if in.Tags, err = parseTags(tags); err != nil {
				return err
			}
			if quota != "" {
				q, err := resource.ParseQuantity(quota)
				if err != nil {
					return clikit.Usagef("--etcd-quota %q is not a size such as 64Mi or 8Gi", quota)
				}
				in.EtcdQuotaBytes = q.Value()
			}
			if from.Cluster != "" {
				in.FromBackup = &from
			} else if from.Set != "" || from.Revision != 0 {
				return clikit.Usagef("--backup-set and --backup-revision go with --from-backup")
			}
			if mode != "" || noBootstrap {
				in.AccessConfig = &eks.AccessConfig{AuthenticationMode: mode, BootstrapClusterCreatorAdminPermissions: ptrTo(!noBootstrap)}
			}
			if noAddons {
				in.BootstrapSelfManagedAddons = ptrTo(false)
			}
			c, err := g.Connect()
			if err != nil {
				return err
			}
			cl, err := c.CreateCluster(cmd.Context(), in)
			if err != nil {
				return err
			}
			if wait {
				return g.waitActive(cmd, c, cl, timeout)
			}
			return g.showCluster(cl)
		},
	}
	f := cmd.Flags()
	f.StringVar(&in.Version, "version", "", "Kubernetes minor version, e.g. 1.35 (default: the newest offered)")
	f.StringArrayVar(&tags, "tag", nil, "tag as key=value (repeatable)")
	f.StringVar(&in.ClientRequestToken, "client-request-token", "", "idempotency token: a retried create with the same token returns the original cluster")
	f.StringVar(&quota, "etcd-quota", "", "etcd backend quota of each member, e.g. 64Mi or 8Gi (16Mi to 8Gi; default 2Gi)")
	f.StringVar(&from.Cluster, "from-backup", "", "restore etcd from the backups of this cluster (same account; it may be deleted)")
	f.StringVar(&from.Set, "backup-set", "", "with --from-backup: the backup set UID, as `cellplane backup list` shows (default: the newest with a full)")
	f.Int64Var(&from.Revision, "backup-revision", 0, "with --from-backup: the source etcd revision to restore to (default: the newest covered)")
	f.BoolVar(&in.DeletionProtection, "deletion-protection", false, "refuse 'cluster delete' once the cluster is ACTIVE, until 'cluster protect NAME --off' (default off, as on EKS)")
	f.StringVar(&in.EncryptionKeyARN, "encryption-key", "", "ARN of a key of the region's key service (cellplane key create) to bind the cluster's Secrets to")
	f.StringVar(&mode, "authentication-mode", "", "API, API_AND_CONFIG_MAP or CONFIG_MAP (default API_AND_CONFIG_MAP, as on EKS)")
	f.BoolVar(&noBootstrap, "no-creator-admin", false, "do not give the creator a cluster-admin access entry (bootstrapClusterCreatorAdminPermissions false)")
	f.BoolVar(&noAddons, "no-default-addons", false, "create the cluster without the coredns and kube-proxy add-ons (bootstrapSelfManagedAddons false)")
	f.BoolVar(&wait, "wait", false, "wait until the cluster is ACTIVE, showing progress")
	f.DurationVar(&timeout, "timeout", 10*time.Minute, "how long --wait waits")
	return cmd
}

func ptrTo[T any](v T) *T { return &v }

func parseTags(kvs []string) (map[string]string, error) {
	if len(kvs) == 0 {
		return nil, nil
	}
	tags := map[string]string{}
	for _, kv := range kvs {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || k == "" {
			return nil, clikit.Usagef("--tag wants key=value, got %q", kv)
		}
		tags[k] = v
	}
	return tags, nil
}
