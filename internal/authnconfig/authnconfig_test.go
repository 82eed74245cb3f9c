package authnconfig

import (
	"errors"
	"strings"
	"testing"

	"github.com/cellplane/cellplane/api/v1alpha1"
)

// TestRenderEmpty: with no provider (or only one being disassociated) the
// file still is a valid configuration, with an empty jwt list.
func TestRenderEmpty(t *testing.T) {
	const empty = "apiVersion: apiserver.config.k8s.io/v1\njwt: []\nkind: AuthenticationConfiguration\n"
	for _, tc := range []struct {
		ps   []v1alpha1.OIDCIdentityProvider
		want string
	}{
		{nil, empty},
		// The file that drops a provider differs from the one before it
		// came: its hash tells an API server that dropped it from one that
		// never reloaded.
		{[]v1alpha1.OIDCIdentityProvider{{Name: "x", ID: "1", IssuerURL: "https://a", ClientID: "c", Disassociating: true}}, empty + "# disassociating x (1)\n"},
	} {
		b, err := Render(tc.ps)
		if err != nil {
			t.Fatal(err)
		}
		if string(b) != tc.want {
			t.Fatalf("rendered %q, want %q", b, tc.want)
		}
	}
}

// TestRenderDefaults: EKS's defaults for usernameClaim and usernamePrefix,
// groups only with a claim, required claims as sorted validation rules.
func TestRenderDefaults(t *testing.T) {
	for _, tc := range []struct {
		name string
		p    v1alpha1.OIDCIdentityProvider
		want []string
		not  []string
	}{
		{"defaults", v1alpha1.OIDCIdentityProvider{IssuerURL: "https://idp.example", ClientID: "kube"},
			[]string{"url: https://idp.example", "audiences:\n    - kube", "claim: sub\n      prefix: https://idp.example#"}, []string{"groups:", "claimValidationRules"}},
		{"email-unprefixed", v1alpha1.OIDCIdentityProvider{IssuerURL: "https://i", ClientID: "c", UsernameClaim: "email"},
			[]string{"claim: email\n      prefix: \"\""}, nil},
		{"dash-disables", v1alpha1.OIDCIdentityProvider{IssuerURL: "https://i", ClientID: "c", UsernamePrefix: "-"},
			[]string{"claim: sub\n      prefix: \"\""}, nil},
		{"prefixes", v1alpha1.OIDCIdentityProvider{IssuerURL: "https://i", ClientID: "c", UsernameClaim: "name", UsernamePrefix: "oidc:", GroupsClaim: "groups", GroupsPrefix: "oidc:"},
			[]string{"groups:\n      claim: groups\n      prefix: 'oidc:'", "claim: name\n      prefix: 'oidc:'"}, nil},
		{"required", v1alpha1.OIDCIdentityProvider{IssuerURL: "https://i", ClientID: "c", RequiredClaims: map[string]string{"z": "1", "a": "2"}},
			[]string{"claimValidationRules:\n  - claim: a\n    requiredValue: \"2\"\n  - claim: z\n    requiredValue: \"1\""}, nil},
		{"ca", v1alpha1.OIDCIdentityProvider{IssuerURL: "https://i", ClientID: "c", CertificateAuthority: "-----BEGIN CERTIFICATE-----\nabc\n-----END CERTIFICATE-----\n"},
			[]string{"certificateAuthority: |\n      -----BEGIN CERTIFICATE-----"}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b, err := Render([]v1alpha1.OIDCIdentityProvider{tc.p})
			if err != nil {
				t.Fatal(err)
			}
			for _, w := range tc.want {
				if !strings.Contains(string(b), w) {
					t.Errorf("rendered\n%s\nwithout %q", b, w)
				}
			}
			for _, n := range tc.not {
				if strings.Contains(string(b), n) {
					t.Errorf("rendered\n%s\nwith %q", b, n)
				}
			}
			again, _ := Render([]v1alpha1.OIDCIdentityProvider{tc.p})
			if Hash(again) != Hash(b) {
				t.Error("the same provider rendered twice hashes differently")
			}
		})
	}
}

// TestParseMetrics reads the lines kube-apiserver 1.35 writes.
func TestParseMetrics(t *testing.T) {
	const m = `# HELP apiserver_authentication_config_controller_automatic_reload_last_timestamp_seconds [BETA] Timestamp
# TYPE apiserver_authentication_config_controller_automatic_reload_last_timestamp_seconds gauge
apiserver_authentication_config_controller_automatic_reload_last_timestamp_seconds{apiserver_id_hash="sha256:aa",status="failure"} 1.7e+09
apiserver_authentication_config_controller_automatic_reload_last_timestamp_seconds{apiserver_id_hash="sha256:aa",status="success"} 1.6e+09
# HELP apiserver_authentication_config_controller_last_config_info [ALPHA] Information
# TYPE apiserver_authentication_config_controller_last_config_info gauge
apiserver_authentication_config_controller_last_config_info{apiserver_id_hash="sha256:aa",hash="sha256:bb"} 1
apiserver_request_total{code="200"} 3
`
	l, err := ParseMetrics(strings.NewReader(m))
	if err != nil {
		t.Fatal(err)
	}
	if l.Hash != "sha256:bb" || !l.ReloadFailing() {
		t.Fatalf("parsed %+v", l)
	}
	if _, err := ParseMetrics(strings.NewReader("apiserver_request_total 1\n")); !errors.Is(err, ErrNoConfigInfo) {
		t.Fatalf("metrics without the config info: %v", err)
	}
}
