package api

import (
	"context"
	"errors"
	"fmt"
	"time"

	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/util/retry"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/cellplane/cellplane/api/v1alpha1"
	"github.com/cellplane/cellplane/internal/errdefs"
)

// objectKey is where a cluster object lives in the region store.
func objectKey(c *v1alpha1.Cluster) client.ObjectKey {
	return client.ObjectKey{Namespace: c.Namespace, Name: c.Name}
}

// getCluster fetches the account's cluster called name. Names that could never
// have been created, and objects whose spec.name differs (two names mapping to
// one object name), count as absent.
func (s *server) getCluster(ctx context.Context, account, name string) (*v1alpha1.Cluster, error) {
	if !v1alpha1.ValidName(name) {
		return nil, clusterNotFound(name)
	}
	key := client.ObjectKey{Namespace: v1alpha1.Namespace(account), Name: v1alpha1.ObjectName(name)}
	var c v1alpha1.Cluster
	err := s.store.Get(ctx, key, &c)
	if apierrors.IsNotFound(err) || (err == nil && c.Spec.Name != name) {
		return nil, clusterNotFound(name)
	}
	if err != nil {
		return nil, fmt.Errorf("getting cluster %s: %w", name, err)
	}
	return &c, nil
}

// clusterNotFound is EKS's answer for an unknown cluster, word for word.
func clusterNotFound(name string) error {
	return errdefs.Publicf(errdefs.ErrNotFound, "No cluster found for name: %s.", name)
}

// accountNamespace reads the account's namespace, nil before its first cluster
// (unless an operator set a quota on it).
func (s *server) accountNamespace(ctx context.Context, name string) (*corev1.Namespace, error) {
	var ns corev1.Namespace
	err := s.store.Get(ctx, client.ObjectKey{Name: name}, &ns)
	if apierrors.IsNotFound(err) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("getting namespace %s: %w", name, err)
	}
	return &ns, nil
}

// ensureNamespace creates the account's namespace on its first cluster; ns is
// what accountNamespace read.
func (s *server) ensureNamespace(ctx context.Context, ns *corev1.Namespace, name, account string) error {
	if ns != nil {
		return nil
	}
	ns = &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{
		Name:   name,
		Labels: map[string]string{v1alpha1.LabelAccount: account},
	}}
	err := s.store.Create(ctx, ns)
	if apierrors.IsAlreadyExists(err) {
		return nil
	}
	return wrapIf(err, "creating namespace %s", name)
}

// wrapIf wraps a non-nil err with a "doing what" prefix.
func wrapIf(err error, format string, args ...any) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("%s: %w", fmt.Sprintf(format, args...), err)
}

// updateCluster applies change to c and stores it. The agent patches a cluster's
// status all the time, which moves its resourceVersion, so a conflict is expected
// rather than exceptional: the cluster is read again and change re-applied, so it
// decides afresh on current state. change returns errNoChange to store nothing.
func (s *server) updateCluster(ctx context.Context, account string, c *v1alpha1.Cluster, change func(*v1alpha1.Cluster) error) error {
	first := true
	return retry.RetryOnConflict(retry.DefaultRetry, func() error {
		if !first {
			fresh, err := s.getCluster(ctx, account, c.Spec.Name)
			if err != nil {
				return err
			}
			*c = *fresh
		}
		first = false
		if err := change(c); err != nil {
			if errors.Is(err, errNoChange) {
				return nil
			}
			return err
		}
		if err := s.store.Update(ctx, c); err != nil {
			return fmt.Errorf("storing cluster %s: %w", c.Spec.Name, err)
		}
		s.fresh.Wrote(objectKey(c), c.ResourceVersion)
		return nil
	})
}

// errNoChange tells updateCluster that the cluster already is as wanted.
var errNoChange = errors.New("no change")

// cacheWait bounds how long a create waits for its cluster to show in the index.
const cacheWait = 2 * time.Second

// awaitCached waits until the name index shows c, so that a ListClusters after
// the CreateCluster that returned lists it. The informer is normally
// milliseconds behind; if it falls further behind the create is not failed for
// it, since the cluster is stored.
func (s *server) awaitCached(ctx context.Context, c *v1alpha1.Cluster) {
	if s.names == nil {
		return
	}
	ctx, cancel := context.WithTimeout(ctx, cacheWait)
	defer cancel()
	err := wait.PollUntilContextCancel(ctx, 2*time.Millisecond, true, func(context.Context) (bool, error) {
		return s.names.Has(objectKey(c)), nil
	})
	if err != nil {
		s.log.Warn("created cluster is not in the cache yet", "cluster", c.Spec.Name, "waited", cacheWait)
	}
}
