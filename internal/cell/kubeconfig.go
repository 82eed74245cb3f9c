package cell

import (
	"context"
	"fmt"
	"os"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"

	"github.com/cellplane/cellplane/api/v1alpha1"
	"github.com/cellplane/cellplane/internal/controlplane"
	"github.com/cellplane/cellplane/internal/kubeconfig"
)

// LabelKubeconfigFor marks a cluster's admin-kubeconfig Secret with the cluster's object name.
const LabelKubeconfigFor = "cellplane.io/kubeconfig-for"

// ensureKubeconfig publishes the admin kubeconfig as a Secret in the cell's store,
// where the agent picks it up for the region. It embeds the credentials, so the
// tenant's copy works on any machine that reaches the endpoint.
func (r *ClusterReconciler) ensureKubeconfig(ctx context.Context, c *v1alpha1.Cluster, p *controlplane.Plan) error {
	data, err := adminKubeconfig(c, p)
	if err != nil {
		return err
	}
	s := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: c.Namespace, Name: v1alpha1.KubeconfigSecretName(c.Name)}}
	_, err = controllerutil.CreateOrPatch(ctx, r.Client, s, func() error {
		s.Labels = map[string]string{LabelKubeconfigFor: c.Name}
		s.Type = corev1.SecretTypeOpaque
		s.Data = map[string][]byte{v1alpha1.KubeconfigSecretKey: data}
		return nil
	})
	if err != nil {
		return fmt.Errorf("publishing kubeconfig: %w", err)
	}
	return nil
}

func adminKubeconfig(c *v1alpha1.Cluster, p *controlplane.Plan) ([]byte, error) {
	f := p.Files()
	ca, err := os.ReadFile(f.CA)
	if err != nil {
		return nil, fmt.Errorf("reading CA: %w", err)
	}
	cert, err := os.ReadFile(f.Admin.Cert)
	if err != nil {
		return nil, fmt.Errorf("reading admin certificate: %w", err)
	}
	key, err := os.ReadFile(f.Admin.Key)
	if err != nil {
		return nil, fmt.Errorf("reading admin key: %w", err)
	}
	return kubeconfig.Marshal(kubeconfig.Options{
		ClusterName: c.Spec.Name, Server: p.Endpoint(), User: c.Spec.Name + "-admin",
		CAData: ca, CertData: cert, KeyData: key,
	})
}

func (r *ClusterReconciler) deleteKubeconfig(ctx context.Context, c *v1alpha1.Cluster) error {
	s := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: c.Namespace, Name: v1alpha1.KubeconfigSecretName(c.Name)}}
	if err := r.Client.Delete(ctx, s); err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("deleting kubeconfig secret: %w", err)
	}
	return nil
}
