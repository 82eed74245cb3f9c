package operator

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/cellplane/cellplane/api/v1alpha1"
	"github.com/cellplane/cellplane/internal/errdefs"
)

// getCluster reads account's cluster name from the region store cl. An
// object whose spec names another cluster (long names are hashed into
// object names) is not it.
func getCluster(ctx context.Context, cl client.Client, account, name string) (*v1alpha1.Cluster, error) {
	c := &v1alpha1.Cluster{}
	key := client.ObjectKey{Namespace: v1alpha1.Namespace(account), Name: v1alpha1.ObjectName(name)}
	err := cl.Get(ctx, key, c)
	if apierrors.IsNotFound(err) || (err == nil && c.Spec.Name != name) {
		return nil, fmt.Errorf("%w: no cluster %q in account %s", errdefs.ErrNotFound, name, account)
	}
	if err != nil {
		return nil, fmt.Errorf("reading cluster %s: %w", name, err)
	}
	return c, nil
}

// regionCluster reads the cluster as the region holds it.
func (c *Client) regionCluster(ctx context.Context, account, name string) (*v1alpha1.Cluster, error) {
	cl, err := c.regionStore()
	if err != nil {
		return nil, err
	}
	return getCluster(ctx, cl, account, name)
}

// requestOfActive asks the cell running account's ACTIVE cluster name for
// something by setting annotation to the time of the request, which it
// returns; the agent copies the annotation to the cell. what names the
// request in errors.
func (c *Client) requestOfActive(ctx context.Context, account, name, annotation, what string) (time.Time, error) {
	cl, err := c.regionStore()
	if err != nil {
		return time.Time{}, err
	}
	cluster, err := getCluster(ctx, cl, account, name)
	if err != nil {
		return time.Time{}, err
	}
	if cluster.Status.Status != v1alpha1.StatusActive {
		return time.Time{}, fmt.Errorf("%w: cluster %s is %s, not ACTIVE", errdefs.ErrInvalidRequest, name, cluster.Status.Status)
	}
	now := time.Now().UTC()
	patch, err := json.Marshal(map[string]any{"metadata": map[string]any{"annotations": map[string]string{
		annotation: now.Format(time.RFC3339Nano)}}})
	if err != nil {
		return time.Time{}, fmt.Errorf("requesting %s: %w", what, err)
	}
	if err := cl.Patch(ctx, cluster, client.RawPatch(types.MergePatchType, patch)); err != nil {
		return time.Time{}, fmt.Errorf("requesting %s: %w", what, err)
	}
	return now, nil
}
