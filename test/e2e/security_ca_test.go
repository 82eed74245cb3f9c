package e2e

import (
	"context"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awseks "github.com/aws/aws-sdk-go-v2/service/eks"
	"github.com/aws/aws-sdk-go-v2/service/eks/types"
	authv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"

	"github.com/cellplane/cellplane/internal/pki"
	"github.com/cellplane/cellplane/test/framework"
)

// TestSecurityCARotation rotates a cluster's Kubernetes CA through the EKS
// operations of aws-sdk-go-v2: CreateCertificateAuthority, wait for its
// distribution, ActivateCertificateAuthority, wait until it signs,
// DeleteCertificateAuthority of the old one. Clients that authenticate with
// a token (as EKS clients do) and trust the bundle fetched after the create
// run all along and see no failed request; afterwards a fresh kubeconfig
// holding only the new CA works with kubectl and one holding only the old CA
// no longer verifies the API servers. Every refused step leaves the CAs as
// they were.
func TestSecurityCARotation(t *testing.T) {
	ctx := ctxFor(t)
	in := framework.Shared(ctx, t, bins)
	sdk := sdkClient(t, in.DataDir)
	const name = "ca-rotate"
	createActive(ctx, t, in, name)
	t.Cleanup(func() {
		if _, errOut, err := in.CLI(context.Background(), "cluster", "delete", name, "--wait"); err != nil {
			t.Errorf("cluster delete: %v %s", err, errOut)
		}
	})
	r := &rotation{t: t, ctx: ctx, sdk: sdk, name: name, in: in}
	oldKC := kubeconfig(ctx, t, in, name)

	cas := r.list()
	if len(cas) != 1 || cas[0].SigningStatus != types.CertificateAuthoritySigningStatusInUse ||
		cas[0].DistributionStatus != types.CertificateAuthorityDistributionStatusComplete || cas[0].CreatedBy != types.CertificateAuthorityCreatedByEks {
		t.Fatalf("CAs of a new cluster = %s, want one IN_USE, COMPLETE, created by EKS", summaries(cas))
	}
	oldID := aws.ToString(cas[0].Id)
	if got := r.describe(oldID); bundleSize(t, aws.ToString(got.Data)) != 1 || got.Validity == nil {
		t.Fatalf("DescribeCertificateAuthority %s = %+v, want its certificate and validity", oldID, got)
	}

	// Refused before the rotation, with nothing changed.
	{
		refused[*types.ResourceNotFoundException](t, "describe an unknown CA", func() error {
			_, err := sdk.DescribeCertificateAuthority(ctx, &awseks.DescribeCertificateAuthorityInput{ClusterName: aws.String(name), CertificateAuthorityId: aws.String("no-such-ca")})
			return err
		})
		refused[*types.ResourceNotFoundException](t, "activate an unknown CA", func() error { return r.activate("no-such-ca") })
		refused[*types.InvalidRequestException](t, "activate the signer", func() error { return r.activate(oldID) })
		refused[*types.InvalidRequestException](t, "delete the signer", func() error { return r.delete(oldID) })
		refused[*types.ResourceNotFoundException](t, "create on an unknown cluster", func() error {
			_, err := sdk.CreateCertificateAuthority(ctx, &awseks.CreateCertificateAuthorityInput{ClusterName: aws.String("no-such-cluster")})
			return err
		})
		if now := r.list(); len(now) != 1 || aws.ToString(now[0].Id) != oldID {
			t.Fatalf("CAs after refused requests = %s, want the one CA unchanged", summaries(now))
		}
	}

	start := time.Now()
	created, err := sdk.CreateCertificateAuthority(ctx, &awseks.CreateCertificateAuthorityInput{ClusterName: aws.String(name)})
	if err != nil {
		t.Fatalf("CreateCertificateAuthority: %v", err)
	}
	newID := aws.ToString(created.CertificateAuthority.Id)
	r.checkUpdate(created.Update, types.UpdateStatusInProgress)
	if created.CertificateAuthority.DistributionStatus != types.CertificateAuthorityDistributionStatusInProgress ||
		created.CertificateAuthority.SigningStatus != types.CertificateAuthoritySigningStatusNotUsed || created.CertificateAuthority.CreatedBy != types.CertificateAuthorityCreatedByCustomer {
		t.Fatalf("created CA = %s, want IN_PROGRESS, NOT_USED, by CUSTOMER", summaries([]types.CertificateAuthoritySummary{*created.CertificateAuthority}))
	}
	// Refused while the successor is distributed.
	{
		refused[*types.ResourceInUseException](t, "a second create", func() error {
			_, err := sdk.CreateCertificateAuthority(ctx, &awseks.CreateCertificateAuthorityInput{ClusterName: aws.String(name)})
			return err
		})
		refused[*types.InvalidRequestException](t, "activate before distributed", func() error { return r.activate(newID) })
		if now := r.list(); len(now) != 2 || now[1].SigningStatus != types.CertificateAuthoritySigningStatusNotUsed {
			t.Fatalf("CAs after refused requests = %s, want the signer and the successor being distributed", summaries(now))
		}
	}

	// Clients that trust the bundle fetched after the create, and
	// authenticate with a service-account token, run through every step.
	bundle := r.waitBundle(in, 2)
	loadKC := tokenKubeconfig(ctx, t, kubeconfig(ctx, t, in, name), bundle)
	load := startLoad(ctx, t, loadKC, 4)

	r.waitCA(newID, "distributed", func(ca *types.CertificateAuthority) bool {
		return ca.DistributionStatus == types.CertificateAuthorityDistributionStatusComplete
	})
	r.waitUpdate(created.Update, types.UpdateStatusSuccessful)
	t.Logf("successor %s distributed %s after the create", newID, time.Since(start).Round(time.Second))
	refused[*types.ResourceLimitExceededException](t, "a third CA", func() error {
		_, err := sdk.CreateCertificateAuthority(ctx, &awseks.CreateCertificateAuthorityInput{ClusterName: aws.String(name)})
		return err
	})

	activated, err := sdk.ActivateCertificateAuthority(ctx, &awseks.ActivateCertificateAuthorityInput{ClusterName: aws.String(name), CertificateAuthorityId: aws.String(newID)})
	if err != nil {
		t.Fatalf("ActivateCertificateAuthority: %v", err)
	}
	r.checkUpdate(activated.Update, types.UpdateStatusInProgress)
	refused[*types.ResourceInUseException](t, "delete the old CA while the new one activates", func() error { return r.delete(oldID) })
	r.waitCA(newID, "signing", func(ca *types.CertificateAuthority) bool {
		return ca.SigningStatus == types.CertificateAuthoritySigningStatusInUse && ca.ActivatedBy == types.CertificateAuthorityActivatedByCustomer
	})
	r.waitUpdate(activated.Update, types.UpdateStatusSuccessful)
	if old := r.describe(oldID); old.SigningStatus != types.CertificateAuthoritySigningStatusNotUsed {
		t.Fatalf("old CA after activation signs %s, want NOT_USED", old.SigningStatus)
	}
	t.Logf("successor signing %s after the create", time.Since(start).Round(time.Second))

	deleted, err := sdk.DeleteCertificateAuthority(ctx, &awseks.DeleteCertificateAuthorityInput{ClusterName: aws.String(name), CertificateAuthorityId: aws.String(oldID)})
	if err != nil {
		t.Fatalf("DeleteCertificateAuthority: %v", err)
	}
	if deleted.CertificateAuthority.DistributionStatus != types.CertificateAuthorityDistributionStatusDeleting {
		t.Fatalf("deleted CA is %s, want DELETING", deleted.CertificateAuthority.DistributionStatus)
	}
	r.waitUpdate(deleted.Update, types.UpdateStatusSuccessful)
	if now := r.list(); len(now) != 1 || aws.ToString(now[0].Id) != newID {
		t.Fatalf("CAs after the delete = %s, want the successor alone", summaries(now))
	}
	t.Logf("rotation done %s after the create", time.Since(start).Round(time.Second))

	ok, failed, firstErr := load.stop()
	t.Logf("load through the rotation: %d requests, %d failed", ok, failed)
	if failed > 0 || ok < 500 {
		t.Fatalf("%d of %d requests failed (first: %v); want none of at least 500", failed, ok+failed, firstErr)
	}

	// Every API server serves a certificate of the new CA, and no component
	// exited by itself: the controllers were restarted by the cell, one at
	// a time, not by a certificate they could no longer use.
	full := describe(ctx, t, in, name)
	newRoots := x509.NewCertPool()
	newRoots.AddCert(mustParseCA(t, aws.ToString(r.describe(newID).Data)))
	for _, c := range full.Cellplane.Components {
		if c.Restarts > 0 {
			t.Errorf("%s exited by itself %d times during the rotation", c.Name, c.Restarts)
		}
		if !strings.HasPrefix(c.Name, "kube-apiserver") {
			continue
		}
		cert := servingCert(ctx, t, c.Address)
		if _, err := cert.Verify(x509.VerifyOptions{Roots: newRoots}); err != nil {
			t.Errorf("%s serves a certificate the new CA does not verify: %v", c.Name, err)
		}
	}

	// The new CA alone works with kubectl.
	{
		bundle := r.waitBundle(in, 1)
		newCA := r.describe(newID)
		if bundle != aws.ToString(newCA.Data) {
			t.Fatal("DescribeCluster's certificate data is not the new CA alone")
		}
		cl, err := sdk.DescribeCluster(ctx, &awseks.DescribeClusterInput{Name: aws.String(name)})
		if err != nil {
			t.Fatal(err)
		}
		if a := cl.Cluster.CertificateAuthority.Active; a == nil || aws.ToString(a.Id) != newID {
			t.Fatalf("DescribeCluster's active CA = %+v, want %s", a, newID)
		}
		fresh := kubeconfig(ctx, t, in, name)
		if n := bundleSize(t, kubeconfigCA(t, fresh)); n != 1 {
			t.Fatalf("fresh kubeconfig trusts %d CAs, want 1", n)
		}
		if out, err := kubectl(ctx, fresh, "get", "namespace", "kube-system", "-o", "name"); err != nil {
			t.Fatalf("kubectl with the new CA: %v", err)
		} else {
			t.Logf("kubectl with the new CA: %s", out)
		}
		if _, err := kubectl(ctx, oldKC, "get", "namespace", "kube-system"); err == nil {
			t.Fatal("kubectl trusting only the old CA still verifies the API servers")
		}
	}
}

// rotation drives one cluster's CA operations and waits on them.
type rotation struct {
	t    *testing.T
	ctx  context.Context
	sdk  *awseks.Client
	name string
	in   *framework.Instance
}

// caLog is what cellplane logged about CAs, for a failure's message.
func (r *rotation) caLog() string {
	var out []string
	for _, line := range strings.Split(r.in.Log(), "\n") {
		if strings.Contains(line, "CA") || strings.Contains(line, "certificate") {
			out = append(out, line)
		}
	}
	return strings.Join(out, "\n")
}

func (r *rotation) list() []types.CertificateAuthoritySummary {
	r.t.Helper()
	out, err := r.sdk.ListCertificateAuthorities(r.ctx, &awseks.ListCertificateAuthoritiesInput{ClusterName: aws.String(r.name)})
	if err != nil {
		r.t.Fatalf("ListCertificateAuthorities: %v", err)
	}
	return out.CertificateAuthorities
}

func (r *rotation) describe(id string) *types.CertificateAuthority {
	r.t.Helper()
	out, err := r.sdk.DescribeCertificateAuthority(r.ctx, &awseks.DescribeCertificateAuthorityInput{ClusterName: aws.String(r.name), CertificateAuthorityId: aws.String(id)})
	if err != nil {
		r.t.Fatalf("DescribeCertificateAuthority %s: %v", id, err)
	}
	return out.CertificateAuthority
}

func (r *rotation) activate(id string) error {
	_, err := r.sdk.ActivateCertificateAuthority(r.ctx, &awseks.ActivateCertificateAuthorityInput{ClusterName: aws.String(r.name), CertificateAuthorityId: aws.String(id)})
	return err
}

func (r *rotation) delete(id string) error {
	_, err := r.sdk.DeleteCertificateAuthority(r.ctx, &awseks.DeleteCertificateAuthorityInput{ClusterName: aws.String(r.name), CertificateAuthorityId: aws.String(id)})
	return err
}

// refused checks that f fails with the EKS error T, with a message.
func refused[T error](t *testing.T, what string, f func() error) {
	t.Helper()
	err := f()
	var target T
	if err == nil || !errors.As(err, &target) || target.Error() == "" {
		t.Fatalf("%s: got %v, want %T", what, err, target)
	}
	t.Logf("%s: %v", what, err)
}

func (r *rotation) checkUpdate(u *types.Update, want types.UpdateStatus) {
	r.t.Helper()
	if u == nil || u.Type != types.UpdateTypeCertificateAuthorityUpdate || u.Status != want {
		r.t.Fatalf("update = %+v, want a %s CertificateAuthorityUpdate", u, want)
	}
}

func (r *rotation) waitUpdate(u *types.Update, want types.UpdateStatus) {
	r.t.Helper()
	err := framework.Eventually(r.ctx, 3*time.Minute, time.Second, func() error {
		out, err := r.sdk.DescribeUpdate(r.ctx, &awseks.DescribeUpdateInput{Name: aws.String(r.name), UpdateId: u.Id})
		if err != nil {
			return err
		}
		if out.Update.Status != want {
			return fmt.Errorf("update %s is %s", aws.ToString(u.Id), out.Update.Status)
		}
		return nil
	})
	if err != nil {
		r.t.Fatalf("update %s did not become %s: %v; CAs %s\ncellplane log:\n%s", aws.ToString(u.Id), want, err, summaries(r.list()), r.caLog())
	}
}

func (r *rotation) waitCA(id, what string, done func(*types.CertificateAuthority) bool) {
	r.t.Helper()
	err := framework.Eventually(r.ctx, 3*time.Minute, time.Second, func() error {
		out, err := r.sdk.DescribeCertificateAuthority(r.ctx, &awseks.DescribeCertificateAuthorityInput{ClusterName: aws.String(r.name), CertificateAuthorityId: aws.String(id)})
		if err != nil {
			return err
		}
		if ca := out.CertificateAuthority; !done(ca) {
			return fmt.Errorf("CA %s: distribution %s, signing %s", id, ca.DistributionStatus, ca.SigningStatus)
		}
		return nil
	})
	if err != nil {
		r.t.Fatalf("CA %s not %s: %v\ncellplane log:\n%s", id, what, err, r.caLog())
	}
}

// waitBundle waits until DescribeCluster's certificate data and the
// kubeconfig the region hands out both hold n CAs, and returns the data.
func (r *rotation) waitBundle(in *framework.Instance, n int) string {
	r.t.Helper()
	var data string
	err := framework.Eventually(r.ctx, 2*time.Minute, time.Second, func() error {
		cl, err := r.sdk.DescribeCluster(r.ctx, &awseks.DescribeClusterInput{Name: aws.String(r.name)})
		if err != nil {
			return err
		}
		data = aws.ToString(cl.Cluster.CertificateAuthority.Data)
		if got := bundleSize(r.t, data); got != n {
			return fmt.Errorf("DescribeCluster shows %d CAs", got)
		}
		if got := bundleSize(r.t, kubeconfigCA(r.t, kubeconfig(r.ctx, r.t, in, r.name))); got != n {
			return fmt.Errorf("the kubeconfig trusts %d CAs", got)
		}
		return nil
	})
	if err != nil {
		r.t.Fatalf("bundle of %d CAs: %v", n, err)
	}
	return data
}

// bundleSize counts the certificates of a base64 PEM bundle.
func bundleSize(t *testing.T, b64 string) int {
	t.Helper()
	pemData, err := base64.StdEncoding.DecodeString(b64)
	if err != nil {
		t.Fatal(err)
	}
	certs, err := pki.ParseBundle(pemData)
	if err != nil {
		return 0
	}
	return len(certs)
}

func kubeconfigCA(t *testing.T, path string) string {
	t.Helper()
	cfg, err := clientcmd.LoadFromFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return base64.StdEncoding.EncodeToString(cfg.Clusters[cfg.Contexts[cfg.CurrentContext].Cluster].CertificateAuthorityData)
}

// tokenKubeconfig makes a service account with a token through adminKC and
// writes a kubeconfig that authenticates with the token and trusts bundle:
// a client whose credential outlives the CA it was issued under, as an EKS
// client's token does.
func tokenKubeconfig(ctx context.Context, t *testing.T, adminKC, bundle string) string {
	t.Helper()
	cs, _, err := newClient(adminKC)
	if err != nil {
		t.Fatal(err)
	}
	sa := &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "ca-load", Namespace: "default"}}
	if _, err := cs.CoreV1().ServiceAccounts("default").Create(ctx, sa, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	// What the load reads, granted directly: the aggregated view role may
	// not be filled in yet on a new cluster.
	role := &rbacv1.ClusterRole{ObjectMeta: metav1.ObjectMeta{Name: "ca-load"}, Rules: []rbacv1.PolicyRule{
		{APIGroups: []string{""}, Resources: []string{"namespaces"}, Verbs: []string{"get"}},
		{APIGroups: []string{""}, Resources: []string{"configmaps"}, Verbs: []string{"list"}},
	}}
	if _, err := cs.RbacV1().ClusterRoles().Create(ctx, role, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	crb := &rbacv1.ClusterRoleBinding{ObjectMeta: metav1.ObjectMeta{Name: "ca-load"},
		RoleRef:  rbacv1.RoleRef{APIGroup: "rbac.authorization.k8s.io", Kind: "ClusterRole", Name: "ca-load"},
		Subjects: []rbacv1.Subject{{Kind: "ServiceAccount", Name: "ca-load", Namespace: "default"}}}
	if _, err := cs.RbacV1().ClusterRoleBindings().Create(ctx, crb, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	tok, err := cs.CoreV1().ServiceAccounts("default").CreateToken(ctx, "ca-load",
		&authv1.TokenRequest{Spec: authv1.TokenRequestSpec{ExpirationSeconds: aws.Int64(3600)}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	admin, err := clientcmd.LoadFromFile(adminKC)
	if err != nil {
		t.Fatal(err)
	}
	ca, err := base64.StdEncoding.DecodeString(bundle)
	if err != nil {
		t.Fatal(err)
	}
	cfg := clientcmdapi.NewConfig()
	cfg.Clusters["c"] = &clientcmdapi.Cluster{Server: admin.Clusters[admin.Contexts[admin.CurrentContext].Cluster].Server, CertificateAuthorityData: ca}
	cfg.AuthInfos["u"] = &clientcmdapi.AuthInfo{Token: tok.Status.Token}
	cfg.Contexts["c"] = &clientcmdapi.Context{Cluster: "c", AuthInfo: "u"}
	cfg.CurrentContext = "c"
	path := t.TempDir() + "/token.kubeconfig"
	if err := clientcmd.WriteToFile(*cfg, path); err != nil {
		t.Fatal(err)
	}
	return path
}

func mustParseCA(t *testing.T, b64 string) *x509.Certificate {
	t.Helper()
	pemData, err := base64.StdEncoding.DecodeString(b64)
	if err != nil {
		t.Fatal(err)
	}
	certs, err := pki.ParseBundle(pemData)
	if err != nil {
		t.Fatal(err)
	}
	return certs[0]
}

func summaries(cas []types.CertificateAuthoritySummary) string {
	out := ""
	for _, ca := range cas {
		out += fmt.Sprintf("[%s %s %s by %s] ", aws.ToString(ca.Id), ca.DistributionStatus, ca.SigningStatus, ca.CreatedBy)
	}
	return out
}
