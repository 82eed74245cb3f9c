package csrapproval

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"net"
	"net/netip"
	"testing"

	certificatesv1 "k8s.io/api/certificates/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"
)

type nodeSet map[string][]netip.Addr

func (s nodeSet) Addresses(_ context.Context, n string) ([]netip.Addr, bool, error) {
	a, ok := s[n]
	return a, ok, nil
}

var nodes = nodeSet{"ng-a-1": {netip.MustParseAddr("10.250.0.2")}}

type req struct {
	user, cn string
	org      []string
	dns      []string
	ips      []string
	usages   []certificatesv1.KeyUsage
	signer   string
}

func good() req {
	return req{
		user: "system:node:ng-a-1", cn: "system:node:ng-a-1", org: []string{"system:nodes"},
		dns: []string{"ng-a-1"}, ips: []string{"10.250.0.2"},
		usages: []certificatesv1.KeyUsage{certificatesv1.UsageDigitalSignature, certificatesv1.UsageServerAuth},
		signer: certificatesv1.KubeletServingSignerName,
	}
}

func (r req) csr(t *testing.T) *certificatesv1.CertificateSigningRequest {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.CertificateRequest{Subject: pkix.Name{CommonName: r.cn, Organization: r.org}, DNSNames: r.dns}
	for _, ip := range r.ips {
		tmpl.IPAddresses = append(tmpl.IPAddresses, net.ParseIP(ip))
	}
	der, err := x509.CreateCertificateRequest(rand.Reader, tmpl, key)
	if err != nil {
		t.Fatal(err)
	}
	return &certificatesv1.CertificateSigningRequest{
		ObjectMeta: metav1.ObjectMeta{Name: "csr-1"},
		Spec: certificatesv1.CertificateSigningRequestSpec{
			Request:    pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: der}),
			SignerName: r.signer, Username: r.user, Groups: []string{"system:nodes", "system:authenticated"}, Usages: r.usages,
		},
	}
}

func TestDecide(t *testing.T) {
	for _, tc := range []struct {
		name    string
		edit    func(*req)
		approve bool
	}{
		{"a node of the node groups at its own address", func(*req) {}, true},
		{"IP only", func(r *req) { r.dns = nil }, true},
		{"a node outside the node groups", func(r *req) {
			r.user, r.cn, r.dns = "system:node:intruder", "system:node:intruder", []string{"intruder"}
		}, false},
		{"another node's address", func(r *req) { r.ips = []string{"10.250.0.3"} }, false},
		{"a loopback address", func(r *req) { r.ips = append(r.ips, "127.0.0.1") }, false},
		{"a DNS name not the node's", func(r *req) { r.dns = append(r.dns, "kubernetes.default") }, false},
		{"asked by a non-node", func(r *req) { r.user = "system:serviceaccount:kube-system:default" }, false},
		{"subject names another node", func(r *req) { r.cn = "system:node:ng-a-2" }, false},
		{"subject outside system:nodes", func(r *req) { r.org = []string{"system:masters"} }, false},
		{"client auth usage", func(r *req) { r.usages = append(r.usages, certificatesv1.UsageClientAuth) }, false},
		{"no server auth", func(r *req) { r.usages = []certificatesv1.KeyUsage{certificatesv1.UsageDigitalSignature} }, false},
		{"no address at all", func(r *req) { r.dns, r.ips = nil, nil }, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := good()
			tc.edit(&r)
			d, ok, err := Decide(context.Background(), r.csr(t), nodes)
			if err != nil || !ok {
				t.Fatalf("Decide: %+v, %v, %v", d, ok, err)
			}
			if d.Approve != tc.approve {
				t.Fatalf("approve = %v (%s), want %v", d.Approve, d.Message, tc.approve)
			}
		})
	}
}

func TestDecideLeavesOthersAlone(t *testing.T) {
	r := good()
	r.signer = certificatesv1.KubeAPIServerClientKubeletSignerName
	if _, ok, _ := Decide(context.Background(), r.csr(t), nodes); ok {
		t.Error("decided a client-certificate request: the controller manager's approver owns those")
	}
	csr := good().csr(t)
	csr.Status.Conditions = []certificatesv1.CertificateSigningRequestCondition{{Type: certificatesv1.CertificateDenied}}
	if _, ok, _ := Decide(context.Background(), csr, nodes); ok {
		t.Error("decided a request already denied")
	}
}

// A fake clientset: what is under test is which condition Review writes.
func TestReview(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		r    req
		want certificatesv1.RequestConditionType
	}{
		{good(), certificatesv1.CertificateApproved},
		{func() req { r := good(); r.ips = []string{"10.9.9.9"}; return r }(), certificatesv1.CertificateDenied},
	} {
		csr := tc.r.csr(t)
		cs := fake.NewClientset(csr)
		if done, err := Review(ctx, cs, csr, nodes); err != nil || !done {
			t.Fatalf("Review: %v, %v", done, err)
		}
		got, err := cs.CertificatesV1().CertificateSigningRequests().Get(ctx, csr.Name, metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if len(got.Status.Conditions) != 1 || got.Status.Conditions[0].Type != tc.want {
			t.Errorf("conditions %+v, want one %s", got.Status.Conditions, tc.want)
		}
	}
}
