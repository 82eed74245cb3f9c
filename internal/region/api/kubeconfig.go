package api

import (
	"fmt"
	"net/http"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/cellplane/cellplane/api/v1alpha1"
	"github.com/cellplane/cellplane/internal/eks"
	"github.com/cellplane/cellplane/internal/errdefs"
	"github.com/cellplane/cellplane/internal/redact"
)

// kubeconfig serves cellplane's GET /cellplane/clusters/{name}/kubeconfig: the
// admin kubeconfig that the cell copied into the region store once the cluster
// came up.
func (s *server) kubeconfig(r *http.Request) (any, error) {
	name := r.PathValue("name")
	noteCluster(r, name)
	c, err := s.getCluster(r.Context(), accountFor(r), name)
	if err != nil {
		return nil, err
	}
	var secret corev1.Secret
	key := client.ObjectKey{Namespace: c.Namespace, Name: v1alpha1.KubeconfigSecretName(c.Name)}
	err = s.store.Get(r.Context(), key, &secret)
	if apierrors.IsNotFound(err) {
		return nil, kubeconfigNotReady(c)
	}
	if err != nil {
		return nil, fmt.Errorf("getting kubeconfig of cluster %s: %w", name, err)
	}
	data := secret.Data[v1alpha1.KubeconfigSecretKey]
	if len(data) == 0 {
		return nil, kubeconfigNotReady(c)
	}
	// The client-certificate kubeconfig is the operator's break-glass way
	// in (system:masters, not revocable by access entries): every hand-out
	// is logged.
	s.log.Warn("break-glass admin kubeconfig handed out", "cluster", name, "account", accountFor(r), "remote", r.RemoteAddr)
	return eks.KubeconfigOutput{Kubeconfig: string(data)}, nil
}

// kubeconfigNotReady explains why there is no kubeconfig yet, with the cell's
// reason when the cluster failed.
func kubeconfigNotReady(c *v1alpha1.Cluster) error {
	status := wireStatus(c)
	if status == eks.StatusFailed && c.Status.Reason != "" {
		return errdefs.Publicf(errdefs.ErrNotFound, "The kubeconfig of cluster %s is not available: the cluster is FAILED: %s", c.Spec.Name, redact.Text(c.Status.Reason))
	}
	return errdefs.Publicf(errdefs.ErrNotFound, "The kubeconfig of cluster %s is not available yet: the cluster is %s.", c.Spec.Name, status)
}
