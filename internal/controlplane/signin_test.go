package controlplane

import (
	"os"
	"strings"
	"testing"
	"time"

	"sigs.k8s.io/yaml"
)

// TestSignInWebhooks: with a sign-in server, the API servers authorize with
// Node, RBAC, then the webhook, and both webhook kubeconfigs name the
// cluster's own URL, the server's CA and the API server's client pair.
func TestSignInWebhooks(t *testing.T) {
	in := testInput(t, t.TempDir(), 0)
	in.SignIn = &SignIn{URL: "https://127.1.0.1:9444/clusters/acct-000000000000/demo", CAData: []byte("CA PEM"), CacheTTL: 30 * time.Second}
	p := New(in)
	if err := p.WriteConfigs(); err != nil {
		t.Fatal(err)
	}
	for _, m := range p.Members(KindAPIServer) {
		f := flags(t, p.Spec(m).Args)
		for name, want := range map[string]string{
			"authorization-mode":                         "Node,RBAC,Webhook",
			"authentication-token-webhook-config-file":   p.signInAuthnConfig(),
			"authentication-token-webhook-version":       "v1",
			"authentication-token-webhook-cache-ttl":     "30s",
			"authorization-webhook-config-file":          p.signInAuthzConfig(),
			"authorization-webhook-version":              "v1",
			"authorization-webhook-cache-authorized-ttl": "30s",
		} {
			if got := f[name]; got != want {
				t.Errorf("%s --%s = %q, want %q", m.Name(), name, got, want)
			}
		}
	}
	for path, suffix := range map[string]string{p.signInAuthnConfig(): "/authenticate", p.signInAuthzConfig(): "/authorize"} {
		assertPrivate(t, path)
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		var kc struct {
			Clusters []struct {
				Cluster struct {
					Server string `json:"server"`
					CAData []byte `json:"certificate-authority-data"`
				} `json:"cluster"`
			} `json:"clusters"`
			Users []struct {
				User struct {
					Cert string `json:"client-certificate"`
					Key  string `json:"client-key"`
				} `json:"user"`
			} `json:"users"`
		}
		if err := yaml.Unmarshal(b, &kc); err != nil || len(kc.Clusters) != 1 || len(kc.Users) != 1 {
			t.Fatalf("%s: %v\n%s", path, err, b)
		}
		c, u := kc.Clusters[0].Cluster, kc.Users[0].User
		if c.Server != in.SignIn.URL+suffix || string(c.CAData) != "CA PEM" ||
			u.Cert != p.Files().KubeletClient.Cert || u.Key != p.Files().KubeletClient.Key {
			t.Fatalf("%s says %+v %+v", path, c, u)
		}
	}
	// Without one, nothing changes.
	plain := New(testInput(t, t.TempDir(), 0))
	for _, m := range plain.Members(KindAPIServer) {
		if args := strings.Join(plain.Spec(m).Args, " "); strings.Contains(args, "webhook") {
			t.Fatalf("%s has webhook flags without a sign-in server: %s", m.Name(), args)
		}
	}
}
