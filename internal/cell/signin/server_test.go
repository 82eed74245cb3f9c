package signin

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"net"
	"net/http"
	"testing"
	"time"

	authenticationv1 "k8s.io/api/authentication/v1"
	authorizationv1 "k8s.io/api/authorization/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/cellplane/cellplane/api/v1alpha1"
	"github.com/cellplane/cellplane/internal/accesspolicy"
	"github.com/cellplane/cellplane/internal/ekstoken"
	"github.com/cellplane/cellplane/internal/pki"
	"github.com/cellplane/cellplane/internal/signingkeys"
	"github.com/cellplane/cellplane/internal/sigv4"
	"github.com/cellplane/cellplane/internal/store/storetest"
)

var env storetest.Env

func TestMain(m *testing.M) { storetest.Main(m, &env) }

const (
	akid    = "CPAKAAAAAAAAAAAAAAAA"
	secret  = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
	account = "000000000000"
	admin   = "arn:aws:iam::000000000000:user/admin"
	viewer  = "arn:aws:iam::000000000000:user/viewer"
)

// staticRoles stands in for the tenant's ClusterRoles.
type staticRoles map[string][]rbacv1.PolicyRule

func (s staticRoles) Rules(_ context.Context, _ *v1alpha1.Cluster, role string) ([]rbacv1.PolicyRule, error) {
	return s[role], nil
}

var roles = staticRoles{
	"cluster-admin": {{Verbs: []string{"*"}, APIGroups: []string{"*"}, Resources: []string{"*"}}, {Verbs: []string{"*"}, NonResourceURLs: []string{"*"}}},
	"view":          {{Verbs: []string{"get", "list", "watch"}, APIGroups: []string{""}, Resources: []string{"pods", "configmaps"}}},
}

// staticAWSAuth stands in for the tenants' aws-auth ConfigMaps.
type staticAWSAuth map[string]AWSAuth

func (s staticAWSAuth) AWSAuth(_ context.Context, c *v1alpha1.Cluster) (AWSAuth, error) {
	return s[c.Name], nil
}

type harness struct {
	url       string
	ns        string
	clientA   *http.Client // cluster one's API server
	clientB   *http.Client // another cluster's API server
	anonymous *http.Client // no client certificate
	store     client.Client
}

func clientFor(t *testing.T, serverCA *pki.CA, cert *tls.Certificate) *http.Client {
	pool := x509.NewCertPool()
	pool.AddCert(serverCA.Cert)
	cfg := &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	if cert != nil {
		cfg.Certificates = []tls.Certificate{*cert}
	}
	return &http.Client{Transport: &http.Transport{TLSClientConfig: cfg}, Timeout: 10 * time.Second}
}

func issue(t *testing.T, ca *pki.CA, req pki.CertRequest) tls.Certificate {
	certPEM, keyPEM, err := ca.Issue(req)
	if err != nil {
		t.Fatal(err)
	}
	c, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func newCA(t *testing.T, name string) *pki.CA {
	ca, err := pki.NewCA(name)
	if err != nil {
		t.Fatal(err)
	}
	return ca
}

// start runs a server over the real store with clusters "one" and "two" in
// one account namespace, each with its own CA, and the admin key's signing
// keys published. startWith gives the clusters named in modes that
// spec.accessConfig.authenticationMode, which the server reads as the cell
// does (ClusterMode); the others have no accessConfig.
func start(t *testing.T) *harness { return startWith(t, nil, nil) }

func startWith(t *testing.T, awsAuth staticAWSAuth, modes map[string]string) *harness {
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	c := env.Client(t)
	ns := env.Namespace(t)
	cas := map[string]*pki.CA{"one": newCA(t, "one"), "two": newCA(t, "two")}
	for name := range cas {
		cl := &v1alpha1.Cluster{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
			Spec: v1alpha1.ClusterSpec{Name: name, Version: "1.35", Cell: "cell-1"}}
		if m, ok := modes[name]; ok {
			cl.Spec.AccessConfig = &v1alpha1.AccessConfig{AuthenticationMode: m}
		}
		env.Create(t, cl)
		env.DeleteOnCleanup(t, cl)
	}
	if err := c.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: signingkeys.Namespace}}); client.IgnoreAlreadyExists(err) != nil {
		t.Fatal(err)
	}
	now := time.Now()
	keys := signingkeys.Keys{AccessKeyID: akid, Account: account, Principal: admin, Days: map[string][]byte{}}
	for _, d := range signingkeys.Days(now) {
		keys.Days[d] = sigv4.SigningKey(secret, d, "local", "sts")
	}
	sk := signingkeys.Secret(keys)
	if err := c.Create(ctx, sk); client.IgnoreAlreadyExists(err) != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Delete(context.Background(), sk) })

	serverCA := newCA(t, "signin")
	serving := issue(t, serverCA, pki.CertRequest{CommonName: "signin", IPs: []net.IP{net.IPv4(127, 0, 0, 1)}, Usage: pki.Server})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv, err := Start(ctx, Config{
		Listener: ln, Certificate: serving, Store: c,
		Verifier: &ekstoken.Verifier{Keys: signingkeys.Reader{Client: c}, Region: "local"},
		ClientCAs: func(cl *v1alpha1.Cluster) (*x509.CertPool, error) {
			pool := x509.NewCertPool()
			pool.AddCert(cas[cl.Name].Cert)
			return pool, nil
		},
		Roles: roles, ConfigMaps: awsAuth,
		AuthenticationMode: ClusterMode,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Close)
	certA := issue(t, cas["one"], pki.CertRequest{CommonName: ClientCommonName, Usage: pki.Client})
	certB := issue(t, cas["two"], pki.CertRequest{CommonName: ClientCommonName, Usage: pki.Client})
	return &harness{url: "https://" + ln.Addr().String() + "/clusters/" + ns + "/", ns: ns,
		clientA: clientFor(t, serverCA, &certA), clientB: clientFor(t, serverCA, &certB),
		anonymous: clientFor(t, serverCA, nil), store: c}
}

func (h *harness) entry(t *testing.T, cluster, principal string, groups []string, policies ...v1alpha1.AssociatedAccessPolicy) {
	e := &v1alpha1.AccessEntry{ObjectMeta: metav1.ObjectMeta{Namespace: h.ns, GenerateName: "entry-"},
		Spec: v1alpha1.AccessEntrySpec{ClusterName: cluster, PrincipalARN: principal, Type: v1alpha1.AccessEntryTypeStandard,
			KubernetesGroups: groups, AccessPolicies: policies, CreatedAt: metav1.Now(), ModifiedAt: metav1.Now()}}
	for i := range e.Spec.AccessPolicies {
		e.Spec.AccessPolicies[i].AssociatedAt, e.Spec.AccessPolicies[i].ModifiedAt = metav1.Now(), metav1.Now()
	}
	env.Create(t, e)
	env.DeleteOnCleanup(t, e)
}

func post(t *testing.T, c *http.Client, url string, in, out any) int {
	body, _ := json.Marshal(in)
	resp, err := c.Post(url, "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatalf("POST %s: %v", url, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode == http.StatusOK {
		if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
			t.Fatal(err)
		}
	}
	return resp.StatusCode
}

func (h *harness) tokenReview(t *testing.T, c *http.Client, cluster, token string) authenticationv1.TokenReviewStatus {
	var out authenticationv1.TokenReview
	in := authenticationv1.TokenReview{Spec: authenticationv1.TokenReviewSpec{Token: token}}
	if code := post(t, c, h.url+cluster+AuthenticatePath, in, &out); code != http.StatusOK {
		t.Fatalf("TokenReview: HTTP %d", code)
	}
	return out.Status
}

func token(cluster string) string {
	return ekstoken.Generate(ekstoken.Credentials{AccessKeyID: akid, SecretAccessKey: secret}, cluster, "local", time.Now())
}

func TestAuthenticate(t *testing.T) {
	h := start(t)
	if st := h.tokenReview(t, h.clientA, "one", token("one")); st.Authenticated {
		t.Fatalf("signed in without an access entry: %+v", st)
	}
	h.entry(t, "one", admin, []string{"team-admins"})
	st := h.tokenReview(t, h.clientA, "one", token("one"))
	if !st.Authenticated || st.User.Username != admin || len(st.User.Groups) != 1 || st.User.Groups[0] != "team-admins" ||
		st.User.Extra[ExtraPrincipal][0] != admin || st.User.Extra[ExtraAccessKeyID][0] != akid {
		t.Fatalf("TokenReview = %+v", st)
	}
	// A token for cluster two, presented to cluster one (by its API server).
	if st := h.tokenReview(t, h.clientA, "one", token("two")); st.Authenticated {
		t.Fatal("a token for another cluster signed in")
	}
	// Cluster two's API server asking about cluster one: refused before the token is read.
	if code := post(t, h.clientB, h.url+"one"+AuthenticatePath, authenticationv1.TokenReview{Spec: authenticationv1.TokenReviewSpec{Token: token("one")}}, nil); code != http.StatusForbidden {
		t.Fatalf("another cluster's API server got HTTP %d", code)
	}
	// No entry on cluster two for the admin: not signed in there.
	if st := h.tokenReview(t, h.clientB, "two", token("two")); st.Authenticated {
		t.Fatal("signed in to a cluster without an entry")
	}
	// No client certificate: the handshake fails.
	body, _ := json.Marshal(authenticationv1.TokenReview{})
	if resp, err := h.anonymous.Post(h.url+"one"+AuthenticatePath, "application/json", bytes.NewReader(body)); err == nil {
		resp.Body.Close()
		t.Fatalf("a caller without a client certificate got HTTP %d", resp.StatusCode)
	}
	// The key withdrawn: refused.
	if err := h.store.Delete(context.Background(), &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: signingkeys.Namespace, Name: signingkeys.Name(akid)}}); err != nil {
		t.Fatal(err)
	}
	if st := h.tokenReview(t, h.clientA, "one", token("one")); st.Authenticated {
		t.Fatal("a withdrawn key signed in")
	}
}

func sar(principal, verb, ns, resource string) authorizationv1.SubjectAccessReview {
	return authorizationv1.SubjectAccessReview{Spec: authorizationv1.SubjectAccessReviewSpec{
		User: principal, Extra: map[string]authorizationv1.ExtraValue{ExtraPrincipal: {principal}},
		ResourceAttributes: &authorizationv1.ResourceAttributes{Verb: verb, Namespace: ns, Resource: resource, Version: "v1"}}}
}

func TestAuthorize(t *testing.T) {
	h := start(t)
	policy := func(name string, scope v1alpha1.AccessScope) v1alpha1.AssociatedAccessPolicy {
		return v1alpha1.AssociatedAccessPolicy{PolicyARN: accesspolicy.ARNPrefix + name, Scope: scope}
	}
	h.entry(t, "one", admin, nil, policy("AmazonEKSClusterAdminPolicy", v1alpha1.AccessScope{Type: v1alpha1.AccessScopeCluster}))
	h.entry(t, "one", viewer, nil, policy("AmazonEKSViewPolicy", v1alpha1.AccessScope{Type: v1alpha1.AccessScopeNamespace, Namespaces: []string{"team-a"}}))
	cases := []struct {
		name    string
		client  *http.Client
		cluster string
		review  authorizationv1.SubjectAccessReview
		allowed bool
	}{
		{"admin creates anywhere", h.clientA, "one", sar(admin, "create", "default", "pods"), true},
		{"admin lists nodes", h.clientA, "one", sar(admin, "list", "", "nodes"), true},
		{"viewer lists pods in team-a", h.clientA, "one", sar(viewer, "list", "team-a", "pods"), true},
		{"viewer lists pods in default", h.clientA, "one", sar(viewer, "list", "default", "pods"), false},
		{"viewer creates pods in team-a", h.clientA, "one", sar(viewer, "create", "team-a", "pods"), false},
		{"viewer lists secrets in team-a", h.clientA, "one", sar(viewer, "list", "team-a", "secrets"), false},
		{"viewer lists pods everywhere", h.clientA, "one", sar(viewer, "list", "", "pods"), false},
		{"admin has no entry on two", h.clientB, "two", sar(admin, "create", "default", "pods"), false},
		{"a user without the extra", h.clientA, "one", authorizationv1.SubjectAccessReview{Spec: authorizationv1.SubjectAccessReviewSpec{User: admin,
			ResourceAttributes: &authorizationv1.ResourceAttributes{Verb: "get", Resource: "pods"}}}, false},
	}
	for _, c := range cases {
		var out authorizationv1.SubjectAccessReview
		if code := post(t, c.client, h.url+c.cluster+AuthorizePath, c.review, &out); code != http.StatusOK {
			t.Fatalf("%s: HTTP %d", c.name, code)
		}
		if out.Status.Allowed != c.allowed || out.Status.Denied {
			t.Errorf("%s: status %+v, want allowed=%v and never denied", c.name, out.Status, c.allowed)
		}
	}
	// Cluster two's API server cannot ask about cluster one's entries.
	if code := post(t, h.clientB, h.url+"one"+AuthorizePath, sar(admin, "get", "default", "pods"), nil); code != http.StatusForbidden {
		t.Fatalf("another cluster's API server got HTTP %d", code)
	}
}

func TestUsername(t *testing.T) {
	role := ekstoken.Identity{Account: account, PrincipalARN: "arn:aws:iam::000000000000:role/dev", SessionName: "alice"}
	user := ekstoken.Identity{Account: account, PrincipalARN: admin}
	cases := []struct {
		template string
		id       ekstoken.Identity
		want     string
	}{
		{"", user, admin},
		{"", role, "arn:aws:sts::000000000000:assumed-role/dev/alice"},
		{"dev:{{SessionName}}@{{AccountID}}", role, "dev:alice@000000000000"},
		{"fixed", user, "fixed"},
	}
	for _, c := range cases {
		e := &v1alpha1.AccessEntry{Spec: v1alpha1.AccessEntrySpec{Username: c.template}}
		if got := username(e, c.id); got != c.want {
			t.Errorf("username(%q) = %q, want %q", c.template, got, c.want)
		}
	}
}

// TestAWSAuth: without an access entry, the aws-auth mapping signs a
// principal in (API_AND_CONFIG_MAP, the default, and CONFIG_MAP); an access
// entry wins over it; API mode reads no ConfigMap and CONFIG_MAP no entries.
func TestAWSAuth(t *testing.T) {
	auth := AWSAuth{MapUsers: []AWSAuthMapping{{UserARN: admin, Username: "from-configmap", Groups: []string{"ops"}}}}
	h := startWith(t, staticAWSAuth{"one": auth, "two": auth}, map[string]string{"two": v1alpha1.AuthenticationModeConfigMap})
	st := h.tokenReview(t, h.clientA, "one", token("one"))
	if !st.Authenticated || st.User.Username != "from-configmap" || st.User.Groups[0] != "ops" {
		t.Fatalf("aws-auth sign-in: %+v", st)
	}
	h.entry(t, "one", admin, []string{"from-entry"})
	h.entry(t, "two", admin, []string{"from-entry"})
	if st := h.tokenReview(t, h.clientA, "one", token("one")); st.User.Groups[0] != "from-entry" {
		t.Fatalf("the access entry does not win: %+v", st)
	}
	if st := h.tokenReview(t, h.clientB, "two", token("two")); !st.Authenticated || st.User.Groups[0] != "ops" {
		t.Fatalf("CONFIG_MAP mode read the access entry: %+v", st)
	}

	api := startWith(t, staticAWSAuth{"one": auth}, map[string]string{"one": v1alpha1.AuthenticationModeAPI})
	if st := api.tokenReview(t, api.clientA, "one", token("one")); st.Authenticated {
		t.Fatalf("API mode read aws-auth: %+v", st)
	}
}

func TestParseAWSAuth(t *testing.T) {
	a, err := ParseAWSAuth(map[string]string{
		"mapRoles": "- rolearn: arn:aws:iam::000000000000:role/dev\n  username: dev:{{SessionName}}\n  groups: [devs]\n",
		"mapUsers": "- userarn: " + admin + "\n  username: admin\n  groups:\n  - system:masters\n",
	})
	if err != nil {
		t.Fatal(err)
	}
	if e := a.Entry("arn:aws:iam::000000000000:role/dev"); e == nil || e.Spec.Username != "dev:{{SessionName}}" || e.Spec.KubernetesGroups[0] != "devs" {
		t.Fatalf("role mapping: %+v", e)
	}
	if e := a.Entry(admin); e == nil || e.Spec.KubernetesGroups[0] != "system:masters" {
		t.Fatalf("user mapping: %+v", e)
	}
	if e := a.Entry(viewer); e != nil {
		t.Fatalf("unmapped principal: %+v", e)
	}
	if _, err := ParseAWSAuth(map[string]string{"mapUsers": "- userarn: x\n  usrname: typo\n"}); err == nil {
		t.Fatal("a misspelt field was accepted")
	}
}
