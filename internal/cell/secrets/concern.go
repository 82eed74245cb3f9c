package secrets

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"strings"
	"sync"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/cellplane/cellplane/api/v1alpha1"
	"github.com/cellplane/cellplane/internal/backup"
	"github.com/cellplane/cellplane/internal/backup/envelope"
	"github.com/cellplane/cellplane/internal/backup/objstore"
	"github.com/cellplane/cellplane/internal/cell/etcdstate"
	"github.com/cellplane/cellplane/internal/cell/tenant"
	"github.com/cellplane/cellplane/internal/controlplane"
	"github.com/cellplane/cellplane/internal/errdefs"
	"github.com/cellplane/cellplane/internal/kms/keyset"
)

// ConditionSecretsEncryption says whether the cluster has its keys for Secrets
// and which one seals new writes.
const ConditionSecretsEncryption = v1alpha1.ConditionSecretsEncryption

// errKeysLost: a cluster that had keys has none any more.
var errKeysLost = errors.New("keys lost")

// keyMessage is the SecretsEncryption condition's message when it is True;
// keyIn reads the key back from it.
const keyMessage = "Secrets are sealed by the KMS v2 plugins under key "

func keyIn(msg string) string {
	k, _, _ := strings.Cut(strings.TrimPrefix(msg, keyMessage), " ")
	return k
}

// Concern is the part of a cluster's pass that gives it its keys. It runs
// after the restores choose their backups and before the processes start.
type Concern struct {
	Keys *Keys
	// Store and BackupKMS read the backup sets restores come from; nil Store
	// means the cell has no backup storage (restores fail on their own then).
	Store     objstore.Store
	BackupKMS envelope.KMS
	// Dial returns the cluster's etcd, which key rotations read to see which
	// key sealed each Secret.
	Dial   func(p *controlplane.Plan) (Etcd, error)
	Logger *slog.Logger

	imported sync.Map // cluster UID → true once its source's keys are in its keyset
}

var _ tenant.Concern = (*Concern)(nil)

// Reconcile makes the cluster's keyset on its first pass and adds the keys of
// the cluster it is restored from. A changed keyset ends the pass
// (tenant.ErrReplan), so the plugins start from a plan that holds it.
func (r *Concern) Reconcile(ctx context.Context, c *v1alpha1.Cluster, p *controlplane.Plan) (err error) {
	log := tenant.Logger(r.Logger, c)
	set, err := r.Keys.Load(ctx, p.Dir())
	changed := false
	if errors.Is(err, fs.ErrNotExist) {
		if cond := meta.FindStatusCondition(c.Status.Conditions, ConditionSecretsEncryption); cond != nil && cond.Status == metav1.ConditionTrue {
			// The cluster had keys: new ones would leave every stored Secret
			// unreadable, and silently. Someone must bring the file back.
			err := fmt.Errorf("%w: the cluster's keys for Secrets are gone from %s (it had %s)", errKeysLost, Path(p.Dir()), keyIn(cond.Message))
			tenant.SetCondition(c, ConditionSecretsEncryption, false, "KeysLost", err.Error())
			return err
		}
		set, changed = keyset.New(), true
		log.Info("made the cluster's key for Secrets", "key", set.Primary)
	} else if err != nil {
		tenant.SetCondition(c, ConditionSecretsEncryption, false, "KeysUnreadable", err.Error())
		return fmt.Errorf("loading the cluster's keys for Secrets: %w", err)
	}
	if c.Spec.RestoreFrom != nil {
		added, settled, err := r.importSource(ctx, c, p, &set)
		if settled {
			defer func() {
				if err == nil {
					r.imported.Store(c.UID, true)
				}
			}()
		}
		if err != nil {
			tenant.SetCondition(c, ConditionSecretsEncryption, false, "SourceKeysUnreadable", err.Error())
			return err
		}
		if added > 0 {
			log.Info("added the keys of the restored cluster's source", "keys", added)
		}
		changed = changed || added > 0
	}
	if changed {
		if err = r.Keys.Save(ctx, p.Dir(), set); err != nil {
			return err
		}
	}
	rotated, err := r.startRotation(ctx, c, p.Dir(), &set)
	if err != nil {
		return err
	}
	changed = changed || rotated
	tenant.SetCondition(c, ConditionSecretsEncryption, true, "KMSv2",
		fmt.Sprintf("%s%s (%d keys held)", keyMessage, set.Primary, len(set.Keys)))
	if changed {
		return tenant.ErrReplan
	}
	return nil
}

// importSource merges into set the keys stored with the backup set the
// cluster is restored from, once the restore has chosen it; it returns how
// many keys it added and whether, once set is saved, nothing is left to
// import.
func (r *Concern) importSource(ctx context.Context, c *v1alpha1.Cluster, p *controlplane.Plan, set *keyset.Set) (int, bool, error) {
	if _, done := r.imported.Load(c.UID); done || r.Store == nil {
		return 0, false, nil
	}
	job, ok, err := etcdstate.For(p).Restore()
	if err != nil || !ok {
		return 0, false, err // not chosen yet: the restore's own step reports why
	}
	data, err := backup.NewAt(r.Store, r.BackupKMS, job.Prefix).SecretsKeys(ctx)
	if errors.Is(err, errdefs.ErrNotFound) {
		// The source predates Secrets encryption: its Secrets are stored in
		// the clear, which the identity provider reads.
		return 0, true, nil
	}
	if err != nil {
		return 0, false, fmt.Errorf("reading the Secrets keys of %s: %w", job, err)
	}
	src, err := keyset.Unmarshal(data)
	if err != nil {
		return 0, false, fmt.Errorf("the Secrets keys of %s: %w", job, err)
	}
	before := len(set.Keys)
	*set = set.Merge(src)
	return len(set.Keys) - before, true, nil
}

// Health carries a key rotation on once the cluster runs. A rotation keeps
// the cluster Ready: every key it needs stays held until nothing is sealed
// under it. The plugins' own condition reports the plugins.
func (r *Concern) Health(ctx context.Context, c *v1alpha1.Cluster, p *controlplane.Plan, etcdHealthy bool) string {
	if !etcdHealthy || c.Status.Status != v1alpha1.StatusActive || r.Dial == nil {
		return ""
	}
	msg, err := r.rewrap(ctx, c, p)
	switch {
	case err != nil:
		tenant.Logger(r.Logger, c).Warn("rotating the cluster's key for Secrets", "err", err)
		tenant.SetCondition(c, ConditionSecretsEncryption, true, "Rotating", "retrying: "+err.Error())
	case msg != "":
		tenant.SetCondition(c, ConditionSecretsEncryption, true, "Rotating", msg)
	}
	return ""
}
