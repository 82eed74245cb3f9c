package lifecycle

import (
	"bytes"
	"context"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"os"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/clientcmd"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"

	"github.com/cellplane/cellplane/api/v1alpha1"
	"github.com/cellplane/cellplane/internal/controlplane"
	"github.com/cellplane/cellplane/internal/kubeconfig"
	"github.com/cellplane/cellplane/internal/pki"
)

// DefaultKubeconfigCertLifetime is the life of the admin certificate in a
// published kubeconfig when the cell sets none.
const DefaultKubeconfigCertLifetime = 12 * time.Hour

// kubeconfigs publishes each cluster's admin kubeconfig as a Secret in the
// cell's store, where the agent picks it up for the region. It embeds the
// credentials, so the tenant's copy works on any machine that reaches the
// endpoint.
//
// The credentials are a client certificate of their own, short-lived: the
// cell's own admin certificate stays on its disk. The cell holds the CA key
// and the region does not, so the cell issues it, and issues the next once
// half of its life is gone: a kubeconfig handed out is good for at least half
// the lifetime, and one that leaks is good for at most all of it.
type kubeconfigs struct {
	client   client.Client
	lifetime time.Duration
}

// tenantAdmin is who the published kubeconfig authenticates as; kubeadm's
// name for the same, and distinct from cellplane's own admin in audit logs.
var tenantAdmin = pki.CertRequest{CommonName: "kubernetes-admin", Organization: []string{"system:masters"}, Usage: pki.Client}

func (k kubeconfigs) publish(ctx context.Context, c *v1alpha1.Cluster, p *controlplane.Plan) error {
	s := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: c.Namespace, Name: v1alpha1.KubeconfigSecretName(c.Name)}}
	err := k.client.Get(ctx, client.ObjectKeyFromObject(s), s)
	if err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("reading published kubeconfig: %w", err)
	}
	ca, err := pki.LoadCA(p.Files().CA, p.Files().CAKey)
	if err != nil {
		return fmt.Errorf("publishing kubeconfig: %w", err)
	}
	// The kubeconfig trusts the bundle, so that it keeps working while the
	// cluster's CA rotates; its certificate is the signer's.
	bundle, err := os.ReadFile(p.Files().CABundle)
	if err != nil {
		return fmt.Errorf("publishing kubeconfig: reading trust bundle: %w", err)
	}
	if k.current(s.Data[v1alpha1.KubeconfigSecretKey], ca, bundle, p.Endpoint(), time.Now()) {
		return nil
	}
	data, err := k.issue(c, p, ca, bundle)
	if err != nil {
		return err
	}
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

// issue makes a kubeconfig with a new admin certificate.
func (k kubeconfigs) issue(c *v1alpha1.Cluster, p *controlplane.Plan, ca *pki.CA, bundle []byte) ([]byte, error) {
	req := tenantAdmin
	req.Validity = k.lifetimeOrDefault()
	cert, key, err := ca.Issue(req)
	if err != nil {
		return nil, fmt.Errorf("issuing kubeconfig certificate: %w", err)
	}
	return kubeconfig.Marshal(kubeconfig.Options{
		ClusterName: c.Spec.Name, Server: p.Endpoint(), User: c.Spec.Name + "-admin",
		CAData: bundle, CertData: cert, KeyData: key,
	})
}

// current says whether a published kubeconfig may stay: it names this
// endpoint and trust bundle, its certificate chains to the signer ca, more than half of the
// lifetime is left, and it was not issued under a longer lifetime (so a
// year-long certificate from before, or a lowered lifetime, is replaced).
func (k kubeconfigs) current(data []byte, ca *pki.CA, bundle []byte, endpoint string, now time.Time) bool {
	cert, ok := publishedCert(data, bundle, endpoint)
	if !ok {
		return false
	}
	life := k.lifetimeOrDefault()
	roots := x509.NewCertPool()
	roots.AddCert(ca.Cert)
	_, err := cert.Verify(x509.VerifyOptions{Roots: roots, CurrentTime: now, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}})
	return err == nil && cert.NotAfter.Sub(now) > life/2 && cert.NotAfter.Sub(now) <= life+time.Minute
}

// publishedCert is the client certificate of a kubeconfig that points at
// endpoint and trusts exactly bundle.
func publishedCert(data []byte, bundle []byte, endpoint string) (*x509.Certificate, bool) {
	if len(data) == 0 {
		return nil, false
	}
	cfg, err := clientcmd.Load(data)
	if err != nil {
		return nil, false
	}
	kctx := cfg.Contexts[cfg.CurrentContext]
	if kctx == nil || cfg.Clusters[kctx.Cluster] == nil || cfg.AuthInfos[kctx.AuthInfo] == nil {
		return nil, false
	}
	cl := cfg.Clusters[kctx.Cluster]
	if cl.Server != endpoint || !bytes.Equal(cl.CertificateAuthorityData, bundle) {
		return nil, false
	}
	block, _ := pem.Decode(cfg.AuthInfos[kctx.AuthInfo].ClientCertificateData)
	if block == nil {
		return nil, false
	}
	cert, err := x509.ParseCertificate(block.Bytes)
	return cert, err == nil
}

func (k kubeconfigs) lifetimeOrDefault() time.Duration {
	if k.lifetime > 0 {
		return k.lifetime
	}
	return DefaultKubeconfigCertLifetime
}

func (k kubeconfigs) delete(ctx context.Context, c *v1alpha1.Cluster) error {
	s := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: c.Namespace, Name: v1alpha1.KubeconfigSecretName(c.Name)}}
	if err := k.client.Delete(ctx, s); err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("deleting kubeconfig secret: %w", err)
	}
	return nil
}
