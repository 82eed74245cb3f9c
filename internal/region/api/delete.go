package api

import (
	"fmt"
	"net/http"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/cellplane/cellplane/api/v1alpha1"
	"github.com/cellplane/cellplane/internal/eks"
)

// deleteCluster serves DeleteCluster: DELETE /clusters/{name}. It only marks the
// object deleted; RegionFinalizer keeps it, shown as DELETING, until the cell has
// torn the control plane down. Deleting again answers the same.
func (s *server) deleteCluster(r *http.Request) (any, error) {
	c, err := s.clusterOfRequest(r)
	if err != nil {
		return nil, err
	}
	if c.DeletionTimestamp == nil {
		if err := s.markDeleted(r, c); err != nil {
			return nil, err
		}
	}
	return eks.ClusterOutput{Cluster: s.toWire(accountFor(r), c)}, nil
}

// markDeleted deletes the object that was just read, and no other: the UID
// precondition stops a delete aimed at a cluster from hitting a new cluster of
// the same name created in between.
func (s *server) markDeleted(r *http.Request, c *v1alpha1.Cluster) error {
	var opts []client.DeleteOption
	if c.UID != "" {
		opts = append(opts, client.Preconditions{UID: &c.UID})
	}
	err := s.store.Delete(r.Context(), c, opts...)
	if apierrors.IsNotFound(err) {
		return clusterNotFound(c.Spec.Name)
	}
	if err != nil {
		return fmt.Errorf("deleting cluster %s: %w", c.Spec.Name, err)
	}
	// The store set its own timestamp; this copy only has to render as DELETING.
	now := metav1.Now()
	c.DeletionTimestamp = &now
	s.log.Info("deleting cluster", "cluster", c.Spec.Name, "cell", c.Spec.Cell)
	return nil
}
