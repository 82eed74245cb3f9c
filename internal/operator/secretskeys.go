package operator

import (
	"context"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/cellplane/cellplane/api/v1alpha1"
)

// RotateSecretsKey asks the cell running account's cluster name to rotate
// the cluster's key for Secrets and returns the time of the request. The cell
// seals every Secret under a new key, then retires the old ones; the
// cluster's SecretsEncryption condition shows the progress.
func (c *Client) RotateSecretsKey(ctx context.Context, account, name string) (time.Time, error) {
	return c.requestOfActive(ctx, account, name, v1alpha1.AnnotationKeyRotationRequested, "a key rotation")
}

// SecretsEncryption returns the cluster's SecretsEncryption condition as the
// region holds it; nil before the cell first reported it.
func (c *Client) SecretsEncryption(ctx context.Context, account, name string) (*metav1.Condition, error) {
	cluster, err := c.regionCluster(ctx, account, name)
	if err != nil {
		return nil, err
	}
	return meta.FindStatusCondition(cluster.Status.Conditions, v1alpha1.ConditionSecretsEncryption), nil
}
