package lifecycle

import (
	"context"
	"crypto/x509"
	"encoding/pem"
	"os"
	"slices"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/client-go/tools/clientcmd"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/cellplane/cellplane/api/v1alpha1"
	"github.com/cellplane/cellplane/internal/pki"
)

// publishedCert reads the admin certificate the cell published for c.
func publishedAdminCert(t *testing.T, r *Reconciler, c *v1alpha1.Cluster) *x509.Certificate {
	t.Helper()
	s := &corev1.Secret{}
	if err := r.Client.Get(context.Background(), client.ObjectKeyFromObject(kubeconfigSecret(c)), s); err != nil {
		t.Fatal(err)
	}
	cfg, err := clientcmd.Load(s.Data[v1alpha1.KubeconfigSecretKey])
	if err != nil {
		t.Fatal(err)
	}
	block, _ := pem.Decode(cfg.AuthInfos[cfg.Contexts[cfg.CurrentContext].AuthInfo].ClientCertificateData)
	if block == nil {
		t.Fatal("published kubeconfig has no client certificate")
	}
	cert, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	return cert
}

// TestPublishedKubeconfigIsShortLived: the kubeconfig handed to the tenant
// carries an admin certificate of its own that lives the configured lifetime,
// not the cell's year-long one; it is kept while more than half its life is
// left and replaced after, and a longer-lived one is replaced at once.
func TestPublishedKubeconfigIsShortLived(t *testing.T) {
	ctx := context.Background()
	c := create(t, testCluster(t, func(c *v1alpha1.Cluster) { c.Status.Slot = slotPtr(3) }))
	r, _, _ := newReconciler(t)
	p := r.Layout.Plan(c, testKube, testEtcd)
	if err := r.phasePKI(ctx, c, p); err != nil {
		t.Fatal(err)
	}
	publish := func(life time.Duration) *x509.Certificate {
		t.Helper()
		r.secrets.lifetime = life
		if err := r.secrets.publish(ctx, c, p); err != nil {
			t.Fatal(err)
		}
		return publishedAdminCert(t, r, c)
	}
	first := publish(0)
	if life := time.Until(first.NotAfter); life > 12*time.Hour || life < 12*time.Hour-time.Minute {
		t.Errorf("published admin certificate lives %s, want 12h", life)
	}
	if first.Subject.CommonName != "kubernetes-admin" || !slices.Equal(first.Subject.Organization, []string{"system:masters"}) {
		t.Errorf("published admin certificate is %v, want kubernetes-admin in system:masters", first.Subject)
	}
	own := mustParseCertFile(t, p.Files().Admin.Cert)
	if own.SerialNumber.Cmp(first.SerialNumber) == 0 {
		t.Error("the published kubeconfig holds the cell's own admin certificate")
	}
	if again := publish(0); again.SerialNumber.Cmp(first.SerialNumber) != 0 {
		t.Error("a second pass reissued a kubeconfig certificate with most of its life left")
	}
	// Under a 20-hour lifetime, 12 hours left is more than half: kept.
	if kept := publish(20 * time.Hour); kept.SerialNumber.Cmp(first.SerialNumber) != 0 {
		t.Error("reissued a certificate with more than half of its life left")
	}
	// Under a 1-hour lifetime a 12-hour certificate is too long: replaced.
	short := publish(time.Hour)
	if short.SerialNumber.Cmp(first.SerialNumber) == 0 || time.Until(short.NotAfter) > time.Hour {
		t.Errorf("lowering the lifetime kept a certificate valid until %s", short.NotAfter)
	}
	// Under a 25-hour lifetime, the 1-hour certificate has less than half
	// left: replaced by a 25-hour one.
	if renewed := publish(25 * time.Hour); time.Until(renewed.NotAfter) < 24*time.Hour {
		t.Errorf("a certificate past half its life was kept, valid until %s", renewed.NotAfter)
	}
}

func mustParseCertFile(t *testing.T, path string) *x509.Certificate {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	block, _ := pem.Decode(data)
	if block == nil {
		t.Fatalf("%s holds no PEM", path)
	}
	cert, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	return cert
}

// TestPassComesBackBeforeRenewal: a pass's requeue never lets a leaf pass
// its renewal point.
func TestPassComesBackBeforeRenewal(t *testing.T) {
	ctx := context.Background()
	c := create(t, testCluster(t, func(c *v1alpha1.Cluster) { c.Status.Slot = slotPtr(4) }))
	r, _, _ := newReconciler(t)
	r.Certs = pki.Renewal{Lifetime: 90 * time.Second, RenewBefore: time.Minute}
	p := r.Layout.Plan(c, testKube, testEtcd)
	if err := r.phasePKI(ctx, c, p); err != nil {
		t.Fatal(err)
	}
	cert := mustParseCertFile(t, p.Files().ControllerManager.Cert)
	if life := cert.NotAfter.Sub(cert.NotBefore); life > 90*time.Second+6*time.Minute {
		t.Errorf("leaf lives %s, want 90s (plus the 5-minute backdating)", life)
	}
	res := r.beforeRenewal(c, ctrl.Result{RequeueAfter: time.Hour})
	if res.RequeueAfter <= 0 || res.RequeueAfter > 31*time.Second {
		t.Errorf("requeue after %s, want by the renewal point in about 30s", res.RequeueAfter)
	}
	if res := r.beforeRenewal(c, ctrl.Result{}); res.RequeueAfter != 0 {
		t.Errorf("a pass that does not requeue (FAILED) was requeued after %s", res.RequeueAfter)
	}
	if res := r.beforeRenewal(c, ctrl.Result{RequeueAfter: time.Second}); res.RequeueAfter != time.Second {
		t.Errorf("a sooner requeue became %s", res.RequeueAfter)
	}
}
