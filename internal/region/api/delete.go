package api

import (
	"fmt"
	"net/http"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/util/retry"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/cellplane/cellplane/api/v1alpha1"
	"github.com/cellplane/cellplane/internal/eks"
	"github.com/cellplane/cellplane/internal/errdefs"
)

// deleteCluster serves DeleteCluster: DELETE /clusters/{name}. It only marks the
// object deleted; RegionFinalizer keeps it, shown as DELETING, until the cell has
// torn the control plane down. Deleting again answers the same. A protected
// cluster is refused and left as it was.
func (s *server) deleteCluster(r *http.Request) (any, error) {
	account := accountFor(r)
	c, err := s.clusterOfRequest(r)
	if err != nil {
		return nil, err
	}
	// The decision is made on the very version that is deleted: the delete
	// carries its resourceVersion, so a protection turned on in between (or
	// any other write) makes it conflict, and it is decided again.
	first, uid := true, c.UID
	err = retry.RetryOnConflict(retry.DefaultRetry, func() error {
		if !first {
			fresh, err := s.getCluster(r.Context(), account, c.Spec.Name)
			if err != nil {
				return err
			}
			if fresh.UID != uid {
				return errdefs.Publicf(errResourceInUse, "Cluster %s was deleted and created again while this request ran; retry.", c.Spec.Name)
			}
			c = fresh
		}
		first = false
		if c.DeletionTimestamp != nil {
			return nil
		}
		if err := refuseProtected(c); err != nil {
			return err
		}
		if err := s.refuseNodegroups(r, c); err != nil {
			return err
		}
		return s.markDeleted(r, c)
	})
	if err != nil {
		return nil, err
	}
	return eks.ClusterOutput{Cluster: s.toWire(account, c)}, nil
}

// refuseProtected refuses to delete a protected cluster, as EKS does: with an
// InvalidRequestException, and only once the cluster is ACTIVE (or updating),
// so a cluster whose create never finished can still be cleaned up.
func refuseProtected(c *v1alpha1.Cluster) error {
	if !c.Spec.DeletionProtection {
		return nil
	}
	switch wireStatus(c) {
	case eks.StatusCreating, eks.StatusFailed:
		return nil
	}
	return errdefs.Publicf(errdefs.ErrInvalidRequest, "Cluster %s has deletion protection enabled; turn it off first with UpdateClusterConfig (deletionProtection false), then delete the cluster.", c.Spec.Name)
}

// markDeleted deletes the object that was just read, and no other: the UID
// precondition stops a delete aimed at a cluster from hitting a new cluster of
// the same name created in between, and the resourceVersion precondition
// makes the delete conflict when the cluster changed since it was read.
func (s *server) markDeleted(r *http.Request, c *v1alpha1.Cluster) error {
	var opts []client.DeleteOption
	if c.UID != "" {
		pre := client.Preconditions{UID: &c.UID}
		if c.ResourceVersion != "" {
			pre.ResourceVersion = &c.ResourceVersion
		}
		opts = append(opts, pre)
	}
	err := s.store.Delete(r.Context(), c, opts...)
	if apierrors.IsNotFound(err) {
		return clusterNotFound(c.Spec.Name)
	}
	if apierrors.IsConflict(err) {
		return err // retried by the caller on a fresh read
	}
	if err != nil {
		return fmt.Errorf("deleting cluster %s: %w", c.Spec.Name, err)
	}
	// A delete answers no resourceVersion: any newer one than the version
	// deleted shows the deletion to a cached read.
	s.fresh.WroteAfter(objectKey(c), c.ResourceVersion)
	// The store set its own timestamp; this copy only has to render as DELETING.
	now := metav1.Now()
	c.DeletionTimestamp = &now
	s.log.Info("deleting cluster", "cluster", c.Spec.Name, "cell", c.Spec.Cell)
	return nil
}
