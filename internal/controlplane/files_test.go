package controlplane

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"k8s.io/client-go/tools/clientcmd"
	"sigs.k8s.io/yaml"
)

func TestWriteConfigs(t *testing.T) {
	forEachSlot(t, func(t *testing.T, p *Plan) {
		// Twice: the phase runs on every reconcile.
		for range 2 {
			if err := p.WriteConfigs(); err != nil {
				t.Fatalf("WriteConfigs: %v", err)
			}
		}
		assertPrivate(t, p.AuditPolicyPath())
		policy, err := os.ReadFile(p.AuditPolicyPath())
		if err != nil {
			t.Fatal(err)
		}
		var doc struct {
			APIVersion string `json:"apiVersion"`
			Kind       string `json:"kind"`
			Rules      []map[string]any
		}
		if err := yaml.Unmarshal(policy, &doc); err != nil || doc.Kind != "Policy" || doc.APIVersion != "audit.k8s.io/v1" || len(doc.Rules) == 0 {
			t.Fatalf("audit policy %+v (%v) is not an audit.k8s.io/v1 Policy with rules", doc, err)
		}

		var written []string
		for _, kind := range []string{KindControllerManager, KindScheduler} {
			pair := p.Files().ControllerManager
			if kind == KindScheduler {
				pair = p.Files().Scheduler
			}
			for _, m := range p.Members(kind) {
				path := p.KubeconfigPath(m)
				written = append(written, filepath.Base(path))
				assertPrivate(t, path)
				cfg, err := clientcmd.LoadFromFile(path)
				if err != nil {
					t.Fatalf("%s kubeconfig: %v", m.Name(), err)
				}
				ctx := cfg.Contexts[cfg.CurrentContext]
				if ctx == nil {
					t.Fatalf("%s kubeconfig has no current context", m.Name())
				}
				cluster, user := cfg.Clusters[ctx.Cluster], cfg.AuthInfos[ctx.AuthInfo]
				if cluster == nil || user == nil {
					t.Fatalf("%s kubeconfig context %+v points at nothing", m.Name(), ctx)
				}
				// Zone-local: the controller in zone a talks to kube-apiserver-a.
				local := p.member(KindAPIServer, m.Zone)
				if want := "https://" + local.Address(); cluster.Server != want {
					t.Errorf("%s talks to %s, want its zone's API server %s", m.Name(), cluster.Server, want)
				}
				if cluster.CertificateAuthority != p.Files().CABundle {
					t.Errorf("%s CA = %q, want %q", m.Name(), cluster.CertificateAuthority, p.Files().CABundle)
				}
				if user.ClientCertificate != pair.Cert || user.ClientKey != pair.Key {
					t.Errorf("%s credentials = %s, %s; want %s, %s", m.Name(), user.ClientCertificate, user.ClientKey, pair.Cert, pair.Key)
				}
			}
		}
		entries, err := os.ReadDir(p.ConfigDir())
		if err != nil {
			t.Fatal(err)
		}
		var names []string
		for _, e := range entries {
			names = append(names, e.Name())
		}
		for _, m := range p.Members(KindAPIServer) {
			written = append(written, filepath.Base(p.EncryptionConfigPath(m)))
		}
		want := append([]string{"audit-policy.yaml", filepath.Base(p.AuthenticationConfigPath())}, written...)
		slices.Sort(want)
		if !slices.Equal(names, want) {
			t.Errorf("config directory holds %q, want %q", names, want)
		}
	})
}

func TestWriteConfigsReportsFailure(t *testing.T) {
	dir := t.TempDir()
	p := New(testInput(t, dir, 0))
	// A file where the config directory should be.
	if err := os.WriteFile(p.ConfigDir(), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	err := p.WriteConfigs()
	if err == nil || !strings.Contains(err.Error(), "audit policy") {
		t.Fatalf("WriteConfigs = %v, want an error about the audit policy", err)
	}
}

func assertPrivate(t *testing.T, path string) {
	t.Helper()
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o600 {
		t.Errorf("%s has mode %v, want 0600", path, st.Mode().Perm())
	}
}
