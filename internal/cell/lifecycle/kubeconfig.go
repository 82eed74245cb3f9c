package lifecycle

import (
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"

	"github.com/cellplane/cellplane/api/v1alpha1"
	"github.com/cellplane/cellplane/internal/cell/tenant"
	"github.com/cellplane/cellplane/internal/controlplane"
)

// kubeconfigs publishes each cluster's admin kubeconfig as a Secret in the
// cell's store, where the agent picks it up for the region. It embeds the
// credentials, so the tenant's copy works on any machine that reaches the
// endpoint.
type kubeconfigs struct{ client client.Client }

func (k kubeconfigs) publish(ctx context.Context, c *v1alpha1.Cluster, p *controlplane.Plan) error {
	data, err := tenant.AdminKubeconfig(c, p)
	if err != nil {
		return err
	}
	s := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: c.Namespace, Name: v1alpha1.KubeconfigSecretName(c.Name)}}
	_, err = controllerutil.CreateOrPatch(ctx, k.client, s, func() error {
		s.Labels = map[string]string{v1alpha1.LabelKubeconfigFor: c.Name}
		s.Type = corev1.SecretTypeOpaque
		s.Data = map[string][]byte{v1alpha1.KubeconfigSecretKey: data}
		return nil
	})
	if err != nil {
		return fmt.Errorf("publishing kubeconfig: %w", err)
	}
	return nil
}

func (k kubeconfigs) delete(ctx context.Context, c *v1alpha1.Cluster) error {
	s := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: c.Namespace, Name: v1alpha1.KubeconfigSecretName(c.Name)}}
	if err := k.client.Delete(ctx, s); err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("deleting kubeconfig secret: %w", err)
	}
	return nil
}
