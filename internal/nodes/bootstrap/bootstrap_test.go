package bootstrap

import (
	"context"
	"errors"
	"testing"
	"time"

	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"
	"k8s.io/client-go/tools/clientcmd"
)

func TestParseToken(t *testing.T) {
	for _, tc := range []struct {
		in string
		ok bool
	}{
		{"abcdef.0123456789abcdef", true},
		{"abcdef.0123456789ABCDEF", false}, // upper case is not in the authenticator's alphabet
		{"abcde.0123456789abcdef", false},
		{"abcdef0123456789abcdef", false},
		{"abcdef.0123456789abcdef0", false},
		{"", false},
	} {
		tok, err := ParseToken(tc.in)
		if tc.ok != (err == nil) {
			t.Errorf("ParseToken(%q) = %v, %v; want ok=%v", tc.in, tok, err, tc.ok)
		}
		if err != nil && !errors.Is(err, ErrInvalidToken) {
			t.Errorf("ParseToken(%q) error %v is not ErrInvalidToken", tc.in, err)
		}
		if err == nil && tok.String() != tc.in {
			t.Errorf("ParseToken(%q).String() = %q", tc.in, tok)
		}
	}
}

func TestNewTokenIsValidAndRandom(t *testing.T) {
	seen := map[string]bool{}
	for range 50 {
		tok, err := NewToken()
		if err != nil {
			t.Fatal(err)
		}
		if _, err := ParseToken(tok.String()); err != nil {
			t.Fatalf("NewToken() = %q: %v", tok, err)
		}
		if seen[tok.ID] {
			t.Fatalf("token ID %s repeated", tok.ID)
		}
		seen[tok.ID] = true
	}
}

func TestSecret(t *testing.T) {
	tok := Token{ID: "abcdef", Secret: "0123456789abcdef"}
	now := time.Date(2026, 12, 3, 9, 0, 0, 0, time.UTC)
	s, err := Secret(tok, TokenOptions{TTL: time.Hour, ExtraGroups: []string{"system:bootstrappers:cellplane:ng-1"}}, now)
	if err != nil {
		t.Fatal(err)
	}
	if s.Name != "bootstrap-token-abcdef" || s.Namespace != "kube-system" || s.Type != "bootstrap.kubernetes.io/token" {
		t.Errorf("secret %s/%s of type %s", s.Namespace, s.Name, s.Type)
	}
	for k, want := range map[string]string{
		"token-id": "abcdef", "token-secret": "0123456789abcdef", "usage-bootstrap-authentication": "true",
		"expiration": "2026-12-03T10:00:00Z", "auth-extra-groups": "system:bootstrappers:cellplane:ng-1",
	} {
		if got := s.StringData[k]; got != want {
			t.Errorf("%s = %q, want %q", k, got, want)
		}
	}
	if _, ok := s.StringData["usage-bootstrap-signing"]; ok {
		t.Error("the token may sign the cluster-info ConfigMap; nodes get the CA from their kubeconfig")
	}
	for _, bad := range []TokenOptions{{TTL: -time.Second}, {ExtraGroups: []string{"system:nodes"}}, {ExtraGroups: []string{"system:bootstrappers:"}}} {
		if _, err := Secret(tok, bad, now); !errors.Is(err, ErrInvalidToken) {
			t.Errorf("Secret with %+v: %v, want ErrInvalidToken", bad, err)
		}
	}
}

func TestKubeconfig(t *testing.T) {
	tok := Token{ID: "abcdef", Secret: "0123456789abcdef"}
	data, err := Kubeconfig("https://127.141.128.1:6443", []byte("CA PEM"), tok)
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := clientcmd.Load(data)
	if err != nil {
		t.Fatal(err)
	}
	ctx := cfg.Contexts[cfg.CurrentContext]
	if ctx == nil || cfg.Clusters[ctx.Cluster].Server != "https://127.141.128.1:6443" ||
		string(cfg.Clusters[ctx.Cluster].CertificateAuthorityData) != "CA PEM" || cfg.AuthInfos[ctx.AuthInfo].Token != tok.String() {
		t.Errorf("kubeconfig does not say endpoint, CA and token:\n%s", data)
	}
	if _, err := Kubeconfig("", []byte("CA"), tok); !errors.Is(err, ErrInvalidToken) {
		t.Errorf("no endpoint: %v", err)
	}
}

// A fake clientset: EnsureRBAC's logic (create missing, repair changed,
// leave right ones alone) is what is under test, not the API server's.
func TestEnsureRBAC(t *testing.T) {
	ctx := context.Background()
	tampered := binding("cellplane:kubelet-bootstrap", "cluster-admin", Group)
	cs := fake.NewClientset(tampered)
	if err := EnsureRBAC(ctx, cs); err != nil {
		t.Fatal(err)
	}
	if err := EnsureRBAC(ctx, cs); err != nil {
		t.Fatalf("second call: %v", err)
	}
	for _, want := range Bindings() {
		got, err := cs.RbacV1().ClusterRoleBindings().Get(ctx, want.Name, metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if got.RoleRef != want.RoleRef || len(got.Subjects) != 1 || got.Subjects[0] != want.Subjects[0] {
			t.Errorf("%s binds %v to %v, want %v to %v", want.Name, got.RoleRef, got.Subjects, want.RoleRef, want.Subjects)
		}
	}
	if want := "system:certificates.k8s.io:certificatesigningrequests:selfnodeclient"; Bindings()[2].RoleRef.Name != want || Bindings()[2].Subjects[0].Name != "system:nodes" {
		t.Errorf("renewal binding = %+v", Bindings()[2])
	}
	for _, b := range Bindings() {
		if b.Subjects[0].Kind != rbacv1.GroupKind {
			t.Errorf("%s binds a %s, want a group", b.Name, b.Subjects[0].Kind)
		}
	}
}
