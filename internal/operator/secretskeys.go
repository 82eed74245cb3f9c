package operator

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/cellplane/cellplane/api/v1alpha1"
	"github.com/cellplane/cellplane/internal/errdefs"
)

// RotateSecretsKey asks the cell running account's cluster name to rotate
// the cluster's key for Secrets and returns the time of the request. The cell
// seals every Secret under a new key, then retires the old ones; the
// cluster's SecretsEncryption condition shows the progress.
func (c *Client) RotateSecretsKey(ctx context.Context, account, name string) (time.Time, error) {
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
	patch, _ := json.Marshal(map[string]any{"metadata": map[string]any{"annotations": map[string]string{
		v1alpha1.AnnotationKeyRotationRequested: now.Format(time.RFC3339Nano)}}})
	if err := cl.Patch(ctx, cluster, client.RawPatch(types.MergePatchType, patch)); err != nil {
		return time.Time{}, fmt.Errorf("requesting a key rotation: %w", err)
	}
	return now, nil
}

// SecretsEncryption returns the cluster's SecretsEncryption condition as the
// region holds it; nil before the cell first reported it.
func (c *Client) SecretsEncryption(ctx context.Context, account, name string) (*metav1.Condition, error) {
	cl, err := c.regionStore()
	if err != nil {
		return nil, err
	}
	cluster, err := getCluster(ctx, cl, account, name)
	if err != nil {
		return nil, err
	}
	return meta.FindStatusCondition(cluster.Status.Conditions, v1alpha1.ConditionSecretsEncryption), nil
}

func getCluster(ctx context.Context, cl client.Client, account, name string) (*v1alpha1.Cluster, error) {
	c := &v1alpha1.Cluster{}
	key := types.NamespacedName{Namespace: v1alpha1.Namespace(account), Name: v1alpha1.ObjectName(name)}
	if err := cl.Get(ctx, key, c); err != nil {
		if client.IgnoreNotFound(err) == nil {
			return nil, fmt.Errorf("%w: no cluster %q in account %s", errdefs.ErrNotFound, name, account)
		}
		return nil, fmt.Errorf("reading cluster %s: %w", name, err)
	}
	return c, nil
}
