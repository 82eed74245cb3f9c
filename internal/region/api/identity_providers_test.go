package api

import (
	"encoding/json"
	"fmt"
	"reflect"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/cellplane/cellplane/api/v1alpha1"
	"github.com/cellplane/cellplane/internal/authnconfig"
	"github.com/cellplane/cellplane/internal/eks"
	"github.com/cellplane/cellplane/internal/region/identityproviders"
)

const idpBase = "/clusters/%s/identity-provider-configs"

func oidcRequest(name string) eks.AssociateIdentityProviderConfigInput {
	return eks.AssociateIdentityProviderConfigInput{OIDC: &eks.OidcIdentityProviderConfigRequest{
		IdentityProviderConfigName: name, IssuerURL: "https://idp.example.test/dex", ClientID: "kube",
		UsernameClaim: "email", UsernamePrefix: "oidc:", GroupsClaim: "groups", GroupsPrefix: "oidc:",
		RequiredClaims: map[string]string{"hd": "example.test"},
	}, Tags: map[string]string{"team": "a"}}
}

func (h *harness) describeIDP(cluster, name string) response {
	h.t.Helper()
	return h.do("POST", fmt.Sprintf(idpBase, cluster)+"/describe", eks.DescribeIdentityProviderConfigInput{
		IdentityProviderConfig: &eks.IdentityProviderConfig{Type: "oidc", Name: name}})
}

func (r response) idp(t *testing.T) *eks.OidcIdentityProviderConfig {
	t.Helper()
	var out eks.DescribeIdentityProviderConfigOutput
	if r.status != 200 || json.Unmarshal(r.body, &out) != nil || out.IdentityProviderConfig == nil || out.IdentityProviderConfig.OIDC == nil {
		t.Fatalf("describe: %d %s", r.status, r.body)
	}
	return out.IdentityProviderConfig.OIDC
}

// activeWithEndpoint seeds an ACTIVE cluster, as its cell reports it: its
// API servers have loaded the configuration without providers.
func (h *harness) activeWithEndpoint(name string) {
	h.t.Helper()
	h.seed(name)
	empty, err := authnconfig.Render(nil)
	if err != nil {
		h.t.Fatal(err)
	}
	h.pushStatus(name, v1alpha1.ClusterStatus{Status: v1alpha1.StatusActive, Endpoint: "https://127.0.0.1:6443",
		Authentication: &v1alpha1.AuthenticationStatus{ConfigHash: authnconfig.Hash(empty)}})
}

// cellLoaded reports, as the cell does, that every API server runs the
// configuration the cluster's spec renders to.
func (h *harness) cellLoaded(name string) {
	h.t.Helper()
	c := h.stored(name)
	data, err := authnconfig.Render(c.Spec.IdentityProviders)
	if err != nil {
		h.t.Fatal(err)
	}
	st := c.Status
	// Observed before the API servers' token cache lapsed.
	at := metav1.NewTime(time.Now().Add(-identityproviders.DropDelay))
	st.Authentication = &v1alpha1.AuthenticationStatus{ConfigHash: authnconfig.Hash(data), IdentityProviders: authnconfig.IDs(c.Spec.IdentityProviders), ObservedAt: &at}
	h.pushStatus(name, st)
}

// TestIdentityProviderLifecycle: CREATING until every API server loaded
// it, ACTIVE, DELETING until every API server dropped it, then gone; the
// updates follow.
func TestIdentityProviderLifecycle(t *testing.T) {
	h := newHarness(t)
	h.activeWithEndpoint("oidc")
	assoc := h.do("POST", fmt.Sprintf(idpBase, "oidc")+"/associate", oidcRequest("corp"))
	var out eks.AssociateIdentityProviderConfigOutput
	if assoc.status != 200 || json.Unmarshal(assoc.body, &out) != nil || out.Update == nil {
		t.Fatalf("associate: %d %s", assoc.status, assoc.body)
	}
	if out.Update.Type != eks.UpdateTypeAssociateIdentityProviderConfig || out.Update.Status != "InProgress" ||
		out.Update.Params[0].Value != `[{"type":"oidc","name":"corp"}]` || out.Tags["team"] != "a" {
		t.Fatalf("associate answered %+v", out)
	}
	got := h.describeIDP("oidc", "corp").idp(t)
	if got.Status != "CREATING" || got.IssuerURL != "https://idp.example.test/dex" || got.ClientID != "kube" ||
		!reflect.DeepEqual(got.RequiredClaims, map[string]string{"hd": "example.test"}) || got.ClusterName != "oidc" {
		t.Fatalf("described %+v", got)
	}
	var list eks.ListIdentityProviderConfigsOutput
	if r := h.do("GET", fmt.Sprintf(idpBase, "oidc"), nil); json.Unmarshal(r.body, &list) != nil ||
		!reflect.DeepEqual(list.IdentityProviderConfigs, []eks.IdentityProviderConfig{{Type: "oidc", Name: "corp"}}) {
		t.Fatalf("list: %d %s", r.status, r.body)
	}

	h.cellLoaded("oidc")
	if got := h.describeIDP("oidc", "corp").idp(t); got.Status != "ACTIVE" {
		t.Fatalf("after every API server loaded it: %s", got.Status)
	}
	if u := h.do("GET", "/clusters/oidc/updates/"+out.Update.ID, nil).update(t); u.Status != "Successful" {
		t.Fatalf("associate update %+v", u)
	}

	dis := h.do("POST", fmt.Sprintf(idpBase, "oidc")+"/disassociate", eks.DisassociateIdentityProviderConfigInput{
		IdentityProviderConfig: &eks.IdentityProviderConfig{Type: "oidc", Name: "corp"}}).update(t)
	if dis.Type != eks.UpdateTypeDisassociateIdentityProviderConfig || dis.Status != "InProgress" {
		t.Fatalf("disassociate answered %+v", dis)
	}
	// DELETING, though the API servers' last agreed configuration is the
	// empty one they had before the provider came.
	if got := h.describeIDP("oidc", "corp").idp(t); got.Status != "DELETING" {
		t.Fatalf("after disassociate: %s", got.Status)
	}
	h.do("POST", fmt.Sprintf(idpBase, "oidc")+"/disassociate", eks.DisassociateIdentityProviderConfigInput{
		IdentityProviderConfig: &eks.IdentityProviderConfig{Type: "oidc", Name: "corp"}}).wantError(t, 409, eks.ResourceInUseException, "already being disassociated")
	h.do("POST", fmt.Sprintf(idpBase, "oidc")+"/associate", oidcRequest("other")).wantError(t, 400, eks.InvalidRequestException, "disassociate it first")

	// Every API server dropped it just now: DELETING while their token
	// caches may still accept its tokens.
	h.cellLoaded("oidc")
	c := h.stored("oidc")
	now := metav1.Now()
	c.Status.Authentication.ObservedAt = &now
	h.pushStatus("oidc", c.Status)
	if got := h.describeIDP("oidc", "corp").idp(t); got.Status != "DELETING" {
		t.Fatalf("within the token cache's life: %s", got.Status)
	}
	h.cellLoaded("oidc")
	h.describeIDP("oidc", "corp").wantError(t, 404, eks.ResourceNotFoundException, "corp")
	if len(h.stored("oidc").Spec.IdentityProviders) != 0 {
		t.Fatal("the dropped provider is still in the spec")
	}
	if u := h.do("GET", "/clusters/oidc/updates/"+dis.ID, nil).update(t); u.Status != "Successful" {
		t.Fatalf("disassociate update %+v", u)
	}
	// The cluster takes a provider again.
	if r := h.do("POST", fmt.Sprintf(idpBase, "oidc")+"/associate", oidcRequest("other")); r.status != 200 {
		t.Fatalf("associating after the first is gone: %d %s", r.status, r.body)
	}
}

// TestIdentityProviderErrors: each bad request gets EKS's error and
// changes nothing.
func TestIdentityProviderErrors(t *testing.T) {
	h := newHarness(t)
	h.activeWithEndpoint("idp-errors")
	assoc := fmt.Sprintf(idpBase, "idp-errors") + "/associate"
	with := func(f func(*eks.AssociateIdentityProviderConfigInput)) eks.AssociateIdentityProviderConfigInput {
		in := oidcRequest("corp")
		f(&in)
		return in
	}
	for _, tc := range []struct {
		name string
		in   any
		msg  string
	}{
		{"http-issuer", with(func(in *eks.AssociateIdentityProviderConfigInput) { in.OIDC.IssuerURL = "http://idp.example.test" }), "https://"},
		{"issuer-query", with(func(in *eks.AssociateIdentityProviderConfigInput) {
			in.OIDC.IssuerURL = "https://idp.example.test/?a=b"
		}), "query"},
		{"no-issuer", with(func(in *eks.AssociateIdentityProviderConfigInput) { in.OIDC.IssuerURL = "" }), "issuerUrl is required"},
		{"no-client-id", with(func(in *eks.AssociateIdentityProviderConfigInput) { in.OIDC.ClientID = "" }), "clientId is required"},
		{"no-oidc", eks.AssociateIdentityProviderConfigInput{}, "oidc is required"},
		{"bad-name", with(func(in *eks.AssociateIdentityProviderConfigInput) { in.OIDC.IdentityProviderConfigName = "a b" }), "not valid"},
		{"system-prefix", with(func(in *eks.AssociateIdentityProviderConfigInput) { in.OIDC.GroupsPrefix = "system:masters" }), "system:"},
		{"own-issuer", with(func(in *eks.AssociateIdentityProviderConfigInput) { in.OIDC.IssuerURL = "https://127.0.0.1:6443" }), "service account issuer"},
		{"bad-ca", with(func(in *eks.AssociateIdentityProviderConfigInput) {
			in.Cellplane = &eks.IdentityProviderExtension{IssuerCertificateAuthority: "not a certificate"}
		}), "PEM certificates"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h.do("POST", assoc, tc.in).wantError(t, 400, eks.InvalidParameterException, tc.msg)
		})
	}
	if c := h.stored("idp-errors"); len(c.Spec.IdentityProviders) != 0 {
		t.Fatalf("bad requests stored %+v", c.Spec.IdentityProviders)
	}
	if r := h.do("POST", assoc, oidcRequest("corp")); r.status != 200 {
		t.Fatalf("associate: %d %s", r.status, r.body)
	}
	h.do("POST", assoc, oidcRequest("corp")).wantError(t, 409, eks.ResourceInUseException, "already associated")
	h.do("POST", assoc, oidcRequest("second")).wantError(t, 400, eks.InvalidRequestException, "can have one")
	h.describeIDP("idp-errors", "nope").wantError(t, 404, eks.ResourceNotFoundException, "nope")
	h.do("POST", fmt.Sprintf(idpBase, "idp-errors")+"/disassociate", eks.DisassociateIdentityProviderConfigInput{
		IdentityProviderConfig: &eks.IdentityProviderConfig{Type: "oidc", Name: "nope"}}).wantError(t, 404, eks.ResourceNotFoundException, "nope")
	h.do("POST", fmt.Sprintf(idpBase, "idp-errors")+"/describe", eks.DescribeIdentityProviderConfigInput{
		IdentityProviderConfig: &eks.IdentityProviderConfig{Type: "saml", Name: "corp"}}).wantError(t, 400, eks.InvalidParameterException, "type")
	h.do("POST", fmt.Sprintf(idpBase, "missing")+"/associate", oidcRequest("corp")).wantError(t, 404, eks.ResourceNotFoundException, "missing")
	h.do("GET", fmt.Sprintf(idpBase, "missing"), nil).wantError(t, 404, eks.ResourceNotFoundException, "missing")
	h.do("GET", fmt.Sprintf(idpBase, "idp-errors")+"?maxResults=0", nil).wantError(t, 400, eks.InvalidParameterException, "")
	h.do("DELETE", fmt.Sprintf(idpBase, "idp-errors"), nil).wantError(t, 405, eks.ClientException, "")
	if c := h.stored("idp-errors"); len(c.Spec.IdentityProviders) != 1 {
		t.Fatalf("refused requests changed the providers: %+v", c.Spec.IdentityProviders)
	}
}
