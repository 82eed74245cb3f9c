package controlplane

import (
	"os"
	"slices"
	"strings"
	"syscall"
	"testing"

	"github.com/cellplane/cellplane/api/v1alpha1"
)

// TestAuthenticationConfig: every API server reads the one configuration
// file from its start, never with --oidc-* flags; the file follows the
// providers and is rewritten only when they change.
func TestAuthenticationConfig(t *testing.T) {
	dir := t.TempDir()
	in := testInput(t, dir, 0)
	p := New(in)
	for _, m := range p.Members(KindAPIServer) {
		_, args := m.Component.Command(p, m)
		if !slices.Contains(args, "--authentication-config="+p.AuthenticationConfigPath()) {
			t.Errorf("%s args lack --authentication-config: %v", m.Name(), args)
		}
		if slices.ContainsFunc(args, func(a string) bool { return strings.HasPrefix(a, "--oidc-") }) {
			t.Errorf("%s has --oidc-* flags beside --authentication-config: %v", m.Name(), args)
		}
	}
	if err := p.WriteConfigs(); err != nil {
		t.Fatal(err)
	}
	empty := readFile(t, p.AuthenticationConfigPath())
	if !strings.Contains(empty, "jwt: []") {
		t.Fatalf("without providers the file is %q", empty)
	}
	if st, _ := os.Stat(p.AuthenticationConfigPath()); st.Mode().Perm() != 0o640 {
		t.Errorf("mode %v, want 0640", st.Mode().Perm())
	}
	before := inode(t, p.AuthenticationConfigPath())
	if err := New(in).WriteConfigs(); err != nil {
		t.Fatal(err)
	}
	if inode(t, p.AuthenticationConfigPath()) != before {
		t.Error("an unchanged configuration was rewritten")
	}
	in.IdentityProviders = []v1alpha1.OIDCIdentityProvider{{Name: "corp", ID: "1", IssuerURL: "https://idp.example", ClientID: "kube"}}
	p = New(in)
	if err := p.WriteConfigs(); err != nil {
		t.Fatal(err)
	}
	if got := readFile(t, p.AuthenticationConfigPath()); !strings.Contains(got, "url: https://idp.example") {
		t.Fatalf("with a provider the file is %q", got)
	}
	for _, m := range p.Members(KindAPIServer) {
		_, args := m.Component.Command(p, m)
		_, old := m.Component.Command(New(testInput(t, dir, 0)), m)
		if !slices.Equal(args, old) {
			t.Errorf("%s's command line changed with its providers: a restart", m.Name())
		}
	}
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func inode(t *testing.T, path string) uint64 {
	t.Helper()
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return st.Sys().(*syscall.Stat_t).Ino
}
