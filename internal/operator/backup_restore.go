package operator

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"time"

	"k8s.io/client-go/util/retry"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/cellplane/cellplane/api/v1alpha1"
	"github.com/cellplane/cellplane/internal/errdefs"
)

// ErrRestoreInProgress: a restore of the cluster is requested or running, and a
// second one must wait for it to finish. errdefs has no sentinel for a conflict;
// a restore under way is a state the request is not allowed in.
var ErrRestoreInProgress = fmt.Errorf("%w: restore in progress", errdefs.ErrInvalidRequest)

// RequestRestore asks the cell running account's cluster name to restore its
// etcd in place: to revision (zero: the newest the backups cover) from the
// backup set with UID set (empty: the cluster's own, its current UID). It checks
// first that the cluster is ACTIVE, that no other restore is under way and that
// the set covers the revision, so a refused request changes nothing. The cell
// answers in status.restore (see RestoreStatus) under the returned request's ID.
func (b *Backups) RequestRestore(ctx context.Context, account, name string, revision int64, set string) (v1alpha1.RestoreRequest, error) {
	if revision < 0 {
		return v1alpha1.RestoreRequest{}, fmt.Errorf("%w: revision must be 0 (the newest the backups cover) or a positive etcd revision, got %d",
			errdefs.ErrInvalidParameter, revision)
	}
	cl, err := b.client.regionStore()
	if err != nil {
		return v1alpha1.RestoreRequest{}, err
	}
	return b.requestRestore(ctx, cl, account, name, v1alpha1.RestoreRequest{Revision: revision, Set: set})
}

// requestRestore checks and patches in one retried step: the patch carries the
// resourceVersion the checks saw, so two operators cannot both pass them and the
// second silently replace the first one's request.
func (b *Backups) requestRestore(ctx context.Context, cl client.Client, account, name string, req v1alpha1.RestoreRequest) (v1alpha1.RestoreRequest, error) {
	err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		c, err := getCluster(ctx, cl, account, name)
		if err != nil {
			return err
		}
		if err := b.checkRestore(ctx, c, account, name, &req); err != nil {
			return err
		}
		req.ID = time.Now().UTC().Format(time.RFC3339Nano)
		return patchRestoreRequest(ctx, cl, c, req)
	})
	if err != nil {
		return v1alpha1.RestoreRequest{}, err
	}
	return req, nil
}

func (b *Backups) checkRestore(ctx context.Context, c *v1alpha1.Cluster, account, name string, req *v1alpha1.RestoreRequest) error {
	if c.Status.Status != v1alpha1.StatusActive {
		return fmt.Errorf("%w: cluster %s is %s, not ACTIVE; only an ACTIVE cluster is restored in place", errdefs.ErrInvalidRequest, name, c.Status.Status)
	}
	if err := restoreUnderWay(c, name); err != nil {
		return err
	}
	s, err := b.restoreSet(ctx, c, account, name, req.Set)
	if err != nil {
		return err
	}
	// The cell restores exactly the set checked here.
	req.Set = s.UID
	return setCovers(name, s, req.Revision)
}

// restoreUnderWay refuses while status.restore is in progress, and while the
// request already on the cluster has no Done or Failed answer yet: the cell may
// not have picked it up, and replacing it would lose it.
func restoreUnderWay(c *v1alpha1.Cluster, name string) error {
	st := c.Status.Restore
	if st != nil && (st.Phase == v1alpha1.RestorePhaseRestoring || st.Phase == v1alpha1.RestorePhaseReplaying) {
		return fmt.Errorf("%w: cluster %s is being restored (%s, reason %s); try again once it is Done or Failed",
			ErrRestoreInProgress, name, st.Phase, st.Reason)
	}
	req, pending, err := v1alpha1.PendingRestoreRequest(c)
	if pending && err == nil {
		return fmt.Errorf("%w: the restore of cluster %s requested at %s has not finished; try again once it is Done or Failed",
			ErrRestoreInProgress, name, req.ID)
	}
	// A request without a readable ID can never be answered: it must not block
	// every later one.
	return nil
}

// restoreSet is the backup set a restore of c reads: the one with UID uid, or
// when uid is empty the cluster's own, the set its cell reports writing (the
// cell backs its copy of the cluster up under that copy's UID, which the
// region's object does not share). It must hold a full.
func (b *Backups) restoreSet(ctx context.Context, c *v1alpha1.Cluster, account, name, uid string) (BackupSet, error) {
	own := uid == ""
	if own && c.Status.Backup != nil {
		uid = c.Status.Backup.Set
	}
	sets, err := b.List(ctx, account, name)
	if err != nil {
		return BackupSet{}, err
	}
	i := slices.IndexFunc(sets, func(s BackupSet) bool { return s.UID == uid })
	switch {
	case own && (uid == "" || i < 0 || sets[i].Latest == nil):
		return BackupSet{}, fmt.Errorf("%w: no full backup of cluster %s yet; take one with `cellplane backup create %s`", errdefs.ErrNotFound, name, name)
	case i < 0:
		return BackupSet{}, fmt.Errorf("%w: cluster %s has no backup set %q; `cellplane backup list %s` shows its sets", errdefs.ErrNotFound, name, uid, name)
	case sets[i].Latest == nil:
		return BackupSet{}, fmt.Errorf("%w: backup set %s of cluster %s holds no full backup", errdefs.ErrNotFound, uid, name)
	}
	return sets[i], nil
}

// setCovers checks that s, which holds a full, can restore revision (zero: its
// newest).
func setCovers(name string, s BackupSet, revision int64) error {
	if revision == 0 {
		return nil
	}
	if revision > s.Latest.Revision {
		return fmt.Errorf("%w: revision %d is not backed up: the backups of cluster %s (set %s) reach revision %d",
			errdefs.ErrNotFound, revision, name, s.UID, s.Latest.Revision)
	}
	if _, err := s.Catalog.PlanTo(revision); err != nil {
		return fmt.Errorf("the backups of cluster %s (set %s) cannot restore revision %d: %w", name, s.UID, revision, err)
	}
	return nil
}

func patchRestoreRequest(ctx context.Context, cl client.Client, c *v1alpha1.Cluster, req v1alpha1.RestoreRequest) error {
	v, err := json.Marshal(req)
	if err != nil {
		return err
	}
	orig := c.DeepCopy()
	if c.Annotations == nil {
		c.Annotations = map[string]string{}
	}
	c.Annotations[v1alpha1.AnnotationRestoreRequested] = string(v)
	if err := cl.Patch(ctx, c, client.MergeFromWithOptions(orig, client.MergeFromWithOptimisticLock{})); err != nil {
		return fmt.Errorf("requesting a restore of cluster %s: %w", c.Spec.Name, err)
	}
	return nil
}

// RestoreStatus returns the state of the cluster's last in-place restore as the
// region holds it; nil when it was never restored in place. A request is
// answered once its RequestID matches and its Phase is Done or Failed.
func (b *Backups) RestoreStatus(ctx context.Context, account, name string) (*v1alpha1.RestoreStatus, error) {
	c, err := b.client.regionCluster(ctx, account, name)
	if err != nil {
		return nil, err
	}
	return c.Status.Restore, nil
}
