package api

import (
	"context"
	"fmt"
	"net/http"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/cellplane/cellplane/api/v1alpha1"
	"github.com/cellplane/cellplane/internal/eks"
)

// describeCluster serves DescribeCluster: GET /clusters/{name}.
func (s *server) describeCluster(r *http.Request) (any, error) {
	name := r.PathValue("name")
	noteCluster(r, name)
	c, err := s.readCluster(r.Context(), accountFor(r), name)
	if err != nil {
		return nil, err
	}
	return eks.ClusterOutput{Cluster: s.toWire(accountFor(r), c)}, nil
}

// readCluster is getCluster for a request that changes nothing: served from
// the region cache, which the informer keeps milliseconds behind the store, so
// the most frequent call costs the store nothing. A cluster this API wrote
// and the cache does not show yet at that version is read live instead.
func (s *server) readCluster(ctx context.Context, account, name string) (*v1alpha1.Cluster, error) {
	if s.cache == nil || !v1alpha1.ValidName(name) {
		return s.getCluster(ctx, account, name)
	}
	key := client.ObjectKey{Namespace: v1alpha1.Namespace(account), Name: v1alpha1.ObjectName(name)}
	var c v1alpha1.Cluster
	err := s.cache.Get(ctx, key, &c)
	switch {
	case apierrors.IsNotFound(err):
		if !s.fresh.Satisfied(key, "") {
			return s.getCluster(ctx, account, name)
		}
		return nil, clusterNotFound(name)
	case err != nil:
		return nil, fmt.Errorf("getting cluster %s from the region cache: %w", name, err)
	case !s.fresh.Satisfied(key, c.ResourceVersion):
		return s.getCluster(ctx, account, name)
	case c.Spec.Name != name:
		return nil, clusterNotFound(name)
	}
	return &c, nil
}
