package clusterupdates

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/cellplane/cellplane/api/v1alpha1"
	"github.com/cellplane/cellplane/internal/errdefs"
)

// MaxPerCluster bounds the update records kept per cluster: the region store
// is not an audit log, and a tenant calling UpdateClusterConfig in a loop must
// not grow it without end. It is also ListUpdates' largest page, so one page
// always shows every record kept.
const MaxPerCluster = 100

// recordedAtAnnotation holds when an update was recorded, to the
// nanosecond: creationTimestamp has whole seconds, and a tenant's updates
// within one second must still be pruned oldest first.
const recordedAtAnnotation = "cellplane.io/recorded-at"

// recordedAtLayout sorts as text in time order: fixed width, UTC.
const recordedAtLayout = "2006-01-02T15:04:05.000000000Z"

// ErrFull is the error of an update of a cluster whose MaxPerCluster records
// are all in progress, so none can be pruned to make room.
var ErrFull = fmt.Errorf("%w: every update record of the cluster is in progress", errdefs.ErrLimitExceeded)

// Records stores and finds update records.
type Records struct {
	Client client.Client
	Log    *slog.Logger
}

// List returns a cluster's updates sorted by object name. An update left
// behind by an earlier cluster of the same name is skipped by its owner.
func (r *Records) List(ctx context.Context, c *v1alpha1.Cluster) ([]v1alpha1.ClusterUpdate, error) {
	var list v1alpha1.ClusterUpdateList
	err := r.Client.List(ctx, &list, client.InNamespace(c.Namespace), client.MatchingLabels{v1alpha1.LabelCluster: c.Name})
	if err != nil {
		return nil, fmt.Errorf("listing updates of cluster %s: %w", c.Spec.Name, err)
	}
	ups := slices.DeleteFunc(list.Items, func(u v1alpha1.ClusterUpdate) bool { return !ownedBy(&u, c) })
	slices.SortFunc(ups, func(a, b v1alpha1.ClusterUpdate) int { return strings.Compare(a.Name, b.Name) })
	return ups, nil
}

func ownedBy(u *v1alpha1.ClusterUpdate, c *v1alpha1.Cluster) bool {
	if c.UID == "" {
		return true
	}
	return slices.ContainsFunc(u.OwnerReferences, func(o metav1.OwnerReference) bool { return o.UID == c.UID })
}

// Record stores an update of c with the given status (under spec.ID, or a
// fresh ID when it has none), first pruning the
// cluster's oldest finished records to keep it at MaxPerCluster. The status is
// written through the status subresource, which ignores it on create.
func (r *Records) Record(ctx context.Context, c *v1alpha1.Cluster, spec v1alpha1.ClusterUpdateSpec, status string) (*v1alpha1.ClusterUpdate, error) {
	if spec.ID == "" {
		spec.ID = NewUUID()
	}
	spec.ClusterName = c.Name
	u := &v1alpha1.ClusterUpdate{
		ObjectMeta: metav1.ObjectMeta{
			Name:        c.Name + "-" + shortID(),
			Namespace:   c.Namespace,
			Labels:      map[string]string{v1alpha1.LabelCluster: c.Name, v1alpha1.LabelAccount: c.Labels[v1alpha1.LabelAccount]},
			Annotations: map[string]string{recordedAtAnnotation: time.Now().UTC().Format(recordedAtLayout)},
		},
		Spec: spec,
	}
	if c.UID != "" {
		u.OwnerReferences = []metav1.OwnerReference{{
			APIVersion: v1alpha1.GroupVersion.String(), Kind: "Cluster", Name: c.Name, UID: c.UID,
		}}
	}
	if err := r.makeRoom(ctx, c); err != nil {
		return nil, err
	}
	if err := r.create(ctx, u); err != nil {
		return nil, err
	}
	u.Status.Status = status
	if err := r.Client.Status().Update(ctx, u); err != nil {
		return nil, fmt.Errorf("recording status of update %s of cluster %s: %w", spec.ID, c.Spec.Name, err)
	}
	r.Log.Info("recorded update", "cluster", c.Spec.Name, "update", spec.ID, "type", spec.Type, "status", status)
	return u, nil
}

// makeRoom prunes the cluster's oldest finished updates (Successful, Failed
// or Cancelled) so that a new one keeps it at MaxPerCluster; DescribeUpdate
// then answers not found for them, and their clientRequestTokens are
// forgotten. Updates in progress are never pruned: with MaxPerCluster of them
// the cluster is refused a new one (ErrFull).
func (r *Records) makeRoom(ctx context.Context, c *v1alpha1.Cluster) error {
	ups, err := r.List(ctx, c)
	if err != nil {
		return err
	}
	excess := len(ups) - (MaxPerCluster - 1)
	if excess <= 0 {
		return nil
	}
	slices.SortStableFunc(ups, func(a, b v1alpha1.ClusterUpdate) int {
		if c := a.CreationTimestamp.Compare(b.CreationTimestamp.Time); c != 0 {
			return c
		}
		return strings.Compare(a.Annotations[recordedAtAnnotation], b.Annotations[recordedAtAnnotation])
	})
	for i := range ups {
		if excess == 0 {
			break
		}
		u := &ups[i]
		if u.Status.Status == "" || u.Status.Status == v1alpha1.UpdateInProgress {
			continue
		}
		if err := r.Client.Delete(ctx, u); client.IgnoreNotFound(err) != nil {
			return fmt.Errorf("pruning update %s of cluster %s: %w", u.Spec.ID, c.Spec.Name, err)
		}
		r.Log.Debug("pruned update", "cluster", c.Spec.Name, "update", u.Spec.ID)
		excess--
	}
	if excess > 0 {
		return ErrFull
	}
	return nil
}

// create stores u, drawing another name in the unlikely case the random
// suffix is taken.
func (r *Records) create(ctx context.Context, u *v1alpha1.ClusterUpdate) error {
	base := u.Spec.ClusterName
	for range 3 {
		err := r.Client.Create(ctx, u)
		if !apierrors.IsAlreadyExists(err) {
			if err != nil {
				return fmt.Errorf("storing update %s: %w", u.Spec.ID, err)
			}
			return nil
		}
		u.Name = base + "-" + shortID()
	}
	return fmt.Errorf("storing update %s: %w", u.Spec.ID, errors.New("no free name"))
}

// NewUUID returns a random (version 4) UUID, the form of EKS update IDs.
func NewUUID() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	h := hex.EncodeToString(b[:])
	return h[:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}

// shortID is the random suffix of an update's object name.
func shortID() string {
	var b [4]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// ByToken returns the update of ups made with token, or nil. A token reused
// for a different kind of update is refused, as a retry must repeat the
// request it retries.
func ByToken(ups []v1alpha1.ClusterUpdate, cluster, token, typ string, params []v1alpha1.UpdateParam) (*v1alpha1.ClusterUpdate, error) {
	if token == "" {
		return nil, nil
	}
	for i := range ups {
		u := &ups[i]
		if u.Spec.ClientRequestToken != token {
			continue
		}
		if u.Spec.Type != typ || !slices.Equal(u.Spec.Params, params) {
			return nil, errdefs.Publicf(errdefs.ErrInvalidParameter, "The clientRequestToken %s was used for a different update of cluster %s (%s).", token, cluster, u.Spec.ID)
		}
		return u, nil
	}
	return nil, nil
}
