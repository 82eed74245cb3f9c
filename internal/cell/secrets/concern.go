package secrets

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"strings"
	"sync"
	"time"

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

	imported sync.Map // restoreSource.memo → true once its keys are in the keyset
}

var _ tenant.Concern = (*Concern)(nil)

// Reconcile makes the cluster's keyset on its first pass and adds the keys of
// the cluster it is restored from. A changed keyset ends the pass
// (tenant.ErrReplan), so the plugins start from a plan that holds it.
func (r *Concern) Reconcile(ctx context.Context, c *v1alpha1.Cluster, p *controlplane.Plan) error {
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
		set, changed = keyset.NewLabelled(KeyLabel(c)), true
		log.Info("made the cluster's key for Secrets", "key", set.Primary)
	} else if err != nil {
		tenant.SetCondition(c, ConditionSecretsEncryption, false, "KeysUnreadable", err.Error())
		return fmt.Errorf("loading the cluster's keys for Secrets: %w", err)
	}
	added, settled, err := r.importRestored(ctx, c, p, &set)
	if err != nil {
		tenant.SetCondition(c, ConditionSecretsEncryption, false, "SourceKeysUnreadable", err.Error())
		return err
	}
	if added > 0 {
		log.Info("added the keys the restored backups were sealed under", "keys", added)
	}
	changed = changed || added > 0
	if changed {
		if err = r.Keys.Save(ctx, p.Dir(), set); err != nil {
			return err
		}
	}
	for _, m := range settled {
		r.imported.Store(m, true)
	}
	if keyDisabled(c) {
		// The plugins start without the keys (tenant.Layout.Plan): nothing
		// to rotate, and nothing sealed until the key is enabled again.
		tenant.SetCondition(c, ConditionSecretsEncryption, false, v1alpha1.ReasonKeyDisabled,
			fmt.Sprintf("the customer key %s is disabled: the KMS plugins hold no keys, so Secrets cannot be written, nor read once the API servers restart; enable the key to recover", c.Spec.Encryption.KeyARN))
		if changed {
			return tenant.ErrReplan
		}
		return nil
	}
	rotated, err := r.startRotation(ctx, c, p.Dir(), &set)
	if err != nil {
		return err
	}
	changed = changed || rotated
	// Until the old keys retire, the condition says Rotating: a caller that
	// waits for the rotation (cluster rotate-secrets-key, an
	// AssociateEncryptionConfig update) must not see it done when it began.
	reason := v1alpha1.ReasonSecretsSealed
	if rot, err := loadRotation(p.Dir()); err == nil && len(rot.Retiring) > 0 {
		reason = v1alpha1.ReasonSecretsRotating
	}
	tenant.SetCondition(c, ConditionSecretsEncryption, true, reason,
		fmt.Sprintf("%s%s (%d keys held)", keyMessage, set.Primary, len(set.Keys)))
	if changed {
		return tenant.ErrReplan
	}
	return nil
}

// restoreSource is a backup set a restore of the cluster reads.
type restoreSource struct{ memo, prefix, what string }

// importRestored merges into set the keys stored with the backup sets the
// cluster is restored from: the source's (spec.restoreFrom) once the restore
// has chosen it, and its own during an in-place restore, which may bring
// back Secrets sealed under a key retired since. It returns how many keys it
// added and the imports that are settled once set is saved.
func (r *Concern) importRestored(ctx context.Context, c *v1alpha1.Cluster, p *controlplane.Plan, set *keyset.Set) (int, []string, error) {
	if r.Store == nil {
		return 0, nil, nil
	}
	rec := etcdstate.For(p)
	var sources []restoreSource
	if c.Spec.RestoreFrom != nil {
		job, ok, err := rec.Restore()
		if err != nil {
			return 0, nil, err
		}
		if ok { // else not chosen yet: the restore's own step reports why
			sources = append(sources, restoreSource{string(c.UID), job.Prefix, job.String()})
		}
	}
	job, ok, err := rec.InPlace()
	if err != nil {
		return 0, nil, err
	}
	if ok && !rec.InPlaceDone() {
		sources = append(sources, restoreSource{string(c.UID) + "@" + job.StartedAt.Format(time.RFC3339), job.Prefix, "the in-place restore's backups"})
	}
	added := 0
	var settled []string
	for _, src := range sources {
		if _, done := r.imported.Load(src.memo); done {
			continue
		}
		n, err := r.importFrom(ctx, src.prefix, set)
		if err != nil {
			return added, settled, fmt.Errorf("the Secrets keys of %s: %w", src.what, err)
		}
		added += n
		settled = append(settled, src.memo)
	}
	return added, settled, nil
}

// importFrom merges the keys the backup set at prefix carries into set.
func (r *Concern) importFrom(ctx context.Context, prefix string, set *keyset.Set) (int, error) {
	data, err := backup.NewAt(r.Store, r.BackupKMS, prefix).SecretsKeys(ctx)
	if errors.Is(err, errdefs.ErrNotFound) {
		// The source predates Secrets encryption: its Secrets are stored in
		// the clear, which the identity provider reads.
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	src, err := keyset.Unmarshal(data)
	if err != nil {
		return 0, err
	}
	before := len(set.Keys)
	*set = set.Merge(src)
	return len(set.Keys) - before, nil
}

// Health carries a key rotation on once the cluster runs. A rotation keeps
// the cluster Ready: every key it needs stays held until nothing is sealed
// under it. The plugins' own condition reports the plugins.
func (r *Concern) Health(ctx context.Context, c *v1alpha1.Cluster, p *controlplane.Plan, etcdHealthy bool) string {
	if !etcdHealthy || c.Status.Status != v1alpha1.StatusActive || r.Dial == nil || keyDisabled(c) {
		return ""
	}
	msg, err := r.rewrap(ctx, c, p)
	switch {
	case err != nil:
		tenant.Logger(r.Logger, c).Warn("rotating the cluster's key for Secrets", "err", err)
		tenant.SetCondition(c, ConditionSecretsEncryption, true, v1alpha1.ReasonSecretsRotating, "retrying: "+err.Error())
	case msg != "":
		tenant.SetCondition(c, ConditionSecretsEncryption, true, v1alpha1.ReasonSecretsRotating, msg)
	}
	return ""
}

// KeyLabel is what the cluster's keys are named after: its customer key's ID
// and generation, "" without a customer key.
func KeyLabel(c *v1alpha1.Cluster) string {
	e := c.Spec.Encryption
	if e == nil {
		return ""
	}
	return fmt.Sprintf("%s/%d", e.KeyID, e.KeyGeneration)
}

// keyDisabled reports whether the cluster's customer key is disabled.
func keyDisabled(c *v1alpha1.Cluster) bool {
	return c.Spec.Encryption != nil && c.Spec.Encryption.KeyState == v1alpha1.KeyStateDisabled
}
