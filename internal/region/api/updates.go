package api

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/http"
	"slices"
	"strings"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/cellplane/cellplane/api/v1alpha1"
	"github.com/cellplane/cellplane/internal/eks"
	"github.com/cellplane/cellplane/internal/errdefs"
	"github.com/cellplane/cellplane/internal/redact"
)

// updatesOfRequest returns the updates of the cluster a request names, after
// refusing the nodegroup, add-on and capability filters.
func (s *server) updatesOfRequest(r *http.Request) ([]v1alpha1.ClusterUpdate, error) {
	c, err := s.clusterOfRequest(r)
	if err != nil {
		return nil, err
	}
	if err := refuseSubresource(r); err != nil {
		return nil, err
	}
	return s.updatesOf(r.Context(), c)
}

// describeUpdate serves DescribeUpdate: GET /clusters/{name}/updates/{updateId}.
func (s *server) describeUpdate(r *http.Request) (any, error) {
	ups, err := s.updatesOfRequest(r)
	if err != nil {
		return nil, err
	}
	id := r.PathValue("updateId")
	i := slices.IndexFunc(ups, func(u v1alpha1.ClusterUpdate) bool { return u.Spec.ID == id })
	if i < 0 {
		return nil, publicf(errdefs.ErrNotFound, "No update found for ID: %s.", id)
	}
	return eks.UpdateOutput{Update: toWireUpdate(&ups[i])}, nil
}

// listUpdates serves ListUpdates: GET /clusters/{name}/updates?maxResults=N&nextToken=T.
// Pages are cut from the update objects' names in byte order, as ListClusters
// cuts its pages from cluster names.
func (s *server) listUpdates(r *http.Request) (any, error) {
	q := r.URL.Query()
	limit, err := parseLimit(q.Get("maxResults"), eks.MinListUpdatesResults, eks.MaxListUpdatesResults, eks.DefaultListUpdatesResults)
	if err != nil {
		return nil, err
	}
	after, err := decodeToken(q.Get("nextToken"))
	if err != nil {
		return nil, err
	}
	ups, err := s.updatesOfRequest(r)
	if err != nil {
		return nil, err
	}
	names := make([]string, len(ups))
	ids := make(map[string]string, len(ups))
	for i, u := range ups {
		names[i], ids[u.Name] = u.Name, u.Spec.ID
	}
	page, next := paginate(names, after, limit)
	out := eks.ListUpdatesOutput{UpdateIDs: make([]string, len(page)), NextToken: next}
	for i, n := range page {
		out.UpdateIDs[i] = ids[n]
	}
	return out, nil
}

// clusterOfRequest fetches the cluster named in the path.
func (s *server) clusterOfRequest(r *http.Request) (*v1alpha1.Cluster, error) {
	name := r.PathValue("name")
	noteCluster(r, name)
	return s.getCluster(r.Context(), accountFor(r), name)
}

// refuseSubresource answers the nodegroup, add-on and capability filters of
// DescribeUpdate and ListUpdates: cellplane has none of those resources.
func refuseSubresource(r *http.Request) error {
	q := r.URL.Query()
	for _, f := range []struct{ param, kind string }{
		{"nodegroupName", "nodegroup"}, {"addonName", "addon"}, {"capabilityName", "capability"},
	} {
		if v := q.Get(f.param); v != "" {
			return publicf(errdefs.ErrNotFound, "No %s found for name: %s.", f.kind, v)
		}
	}
	return nil
}

// updatesOf lists a cluster's updates sorted by object name. An update left
// behind by an earlier cluster of the same name is skipped by its owner.
func (s *server) updatesOf(ctx context.Context, c *v1alpha1.Cluster) ([]v1alpha1.ClusterUpdate, error) {
	var list v1alpha1.ClusterUpdateList
	err := s.store.List(ctx, &list, client.InNamespace(c.Namespace), client.MatchingLabels{v1alpha1.LabelCluster: c.Name})
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

// updateByToken returns the cluster's update made with token, or nil. A token
// reused for a different kind of update is refused, as a retry must repeat the
// request it retries.
func (s *server) updateByToken(ctx context.Context, c *v1alpha1.Cluster, token, typ string, params []v1alpha1.UpdateParam) (*v1alpha1.ClusterUpdate, error) {
	if token == "" {
		return nil, nil
	}
	ups, err := s.updatesOf(ctx, c)
	if err != nil {
		return nil, err
	}
	for i := range ups {
		u := &ups[i]
		if u.Spec.ClientRequestToken != token {
			continue
		}
		if u.Spec.Type != typ || !slices.Equal(u.Spec.Params, params) {
			return nil, publicf(errdefs.ErrInvalidParameter, "The clientRequestToken %s was used for a different update of cluster %s (%s).", token, c.Spec.Name, u.Spec.ID)
		}
		return u, nil
	}
	return nil, nil
}

// recordUpdate stores an update of c with the given status. The status is
// written through the status subresource, which ignores it on create.
func (s *server) recordUpdate(ctx context.Context, c *v1alpha1.Cluster, spec v1alpha1.ClusterUpdateSpec, status string) (*v1alpha1.ClusterUpdate, error) {
	spec.ID = newUUID()
	spec.ClusterName = c.Name
	u := &v1alpha1.ClusterUpdate{
		ObjectMeta: metav1.ObjectMeta{
			Name:      c.Name + "-" + shortID(),
			Namespace: c.Namespace,
			Labels:    map[string]string{v1alpha1.LabelCluster: c.Name, v1alpha1.LabelAccount: c.Labels[v1alpha1.LabelAccount]},
		},
		Spec: spec,
	}
	if c.UID != "" {
		u.OwnerReferences = []metav1.OwnerReference{{
			APIVersion: v1alpha1.GroupVersion.String(), Kind: "Cluster", Name: c.Name, UID: c.UID,
		}}
	}
	if err := s.makeRoomForUpdate(ctx, c); err != nil {
		return nil, err
	}
	if err := s.createUpdate(ctx, u); err != nil {
		return nil, err
	}
	u.Status.Status = status
	if err := s.store.Status().Update(ctx, u); err != nil {
		return nil, fmt.Errorf("recording status of update %s of cluster %s: %w", spec.ID, c.Spec.Name, err)
	}
	s.log.Info("recorded update", "cluster", c.Spec.Name, "update", spec.ID, "type", spec.Type, "status", status)
	return u, nil
}

// MaxUpdatesPerCluster bounds the update records kept per cluster: the
// region store is not an audit log, and a tenant calling UpdateClusterConfig
// in a loop must not grow it without end. It is also ListUpdates' largest
// page, so one page always shows every record kept.
const MaxUpdatesPerCluster = 100

// makeRoomForUpdate prunes the cluster's oldest finished updates (Successful,
// Failed or Cancelled) so that a new one keeps it at MaxUpdatesPerCluster;
// DescribeUpdate then answers not found for them, and their
// clientRequestTokens are forgotten. Updates in progress are never pruned: a
// cluster with MaxUpdatesPerCluster of them is refused a new one.
func (s *server) makeRoomForUpdate(ctx context.Context, c *v1alpha1.Cluster) error {
	ups, err := s.updatesOf(ctx, c)
	if err != nil {
		return err
	}
	excess := len(ups) - (MaxUpdatesPerCluster - 1)
	if excess <= 0 {
		return nil
	}
	slices.SortStableFunc(ups, func(a, b v1alpha1.ClusterUpdate) int {
		return a.CreationTimestamp.Compare(b.CreationTimestamp.Time)
	})
	for i := range ups {
		if excess == 0 {
			break
		}
		u := &ups[i]
		if u.Status.Status == "" || u.Status.Status == eks.UpdateStatusInProgress {
			continue
		}
		if err := s.store.Delete(ctx, u); client.IgnoreNotFound(err) != nil {
			return fmt.Errorf("pruning update %s of cluster %s: %w", u.Spec.ID, c.Spec.Name, err)
		}
		s.log.Debug("pruned update", "cluster", c.Spec.Name, "update", u.Spec.ID)
		excess--
	}
	if excess > 0 {
		return publicf(errdefs.ErrLimitExceeded, "Cluster %s keeps at most %d update records, and too many of them are in progress to make room; retry once one finishes.", c.Spec.Name, MaxUpdatesPerCluster)
	}
	return nil
}

// createUpdate stores u, drawing another name in the unlikely case the random
// suffix is taken.
func (s *server) createUpdate(ctx context.Context, u *v1alpha1.ClusterUpdate) error {
	base := u.Spec.ClusterName
	for range 3 {
		err := s.store.Create(ctx, u)
		if !apierrors.IsAlreadyExists(err) {
			return wrapIf(err, "storing update %s", u.Spec.ID)
		}
		u.Name = base + "-" + shortID()
	}
	return fmt.Errorf("storing update %s: no free name", u.Spec.ID)
}

// toWireUpdate renders a stored update as EKS's Update. An update whose status
// write was lost reads as InProgress, which is what it was.
func toWireUpdate(u *v1alpha1.ClusterUpdate) *eks.Update {
	out := &eks.Update{
		ID:        u.Spec.ID,
		Status:    u.Status.Status,
		Type:      u.Spec.Type,
		Params:    []eks.UpdateParam{},
		CreatedAt: eks.NewTimestamp(u.CreationTimestamp.Time),
		Errors:    []eks.ErrorDetail{},
	}
	if out.Status == "" {
		out.Status = eks.UpdateStatusInProgress
	}
	for _, p := range u.Spec.Params {
		out.Params = append(out.Params, eks.UpdateParam{Type: p.Type, Value: p.Value})
	}
	for _, e := range u.Status.Errors {
		out.Errors = append(out.Errors, eks.ErrorDetail{ErrorCode: e.ErrorCode, ErrorMessage: redact.Text(e.ErrorMessage), ResourceIDs: e.ResourceIDs})
	}
	return out
}

// newUUID returns a random (version 4) UUID, the form of EKS update IDs.
func newUUID() string {
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
