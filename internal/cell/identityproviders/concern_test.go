package identityproviders

import (
	"context"
	"errors"
	"log/slog"
	"slices"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/api/meta"

	"github.com/cellplane/cellplane/api/v1alpha1"
	"github.com/cellplane/cellplane/internal/authnconfig"
	"github.com/cellplane/cellplane/internal/controlplane"
	"github.com/cellplane/cellplane/internal/ipam"
)

// TestHealth: the status moves to a configuration only once every API
// server reports it, and a settled cluster asks no API server.
func TestHealth(t *testing.T) {
	b, err := ipam.ParseBlock("127.247", 1)
	if err != nil {
		t.Fatal(err)
	}
	idp := v1alpha1.OIDCIdentityProvider{Name: "corp", ID: "id-1", IssuerURL: "https://idp.example", ClientID: "kube"}
	c := &v1alpha1.Cluster{Spec: v1alpha1.ClusterSpec{Name: "demo", IdentityProviders: []v1alpha1.OIDCIdentityProvider{idp}}}
	p := controlplane.New(controlplane.Input{Namespace: "acct-1", Name: "demo", UID: "uid", ClusterName: "demo",
		Dir: t.TempDir(), Cell: b.Cell(1), IdentityProviders: c.Spec.IdentityProviders})
	data, err := p.AuthenticationConfig()
	if err != nil {
		t.Fatal(err)
	}
	want := authnconfig.Hash(data)
	reports := map[string]authnconfig.Loaded{"kube-apiserver-a": {Hash: want}, "kube-apiserver-b": {Hash: "sha256:old", LastFailure: 2, LastSuccess: 1}}
	asked := 0
	r := &Concern{Logger: slog.New(slog.DiscardHandler), Loaded: func(_ context.Context, _ *controlplane.Plan, m controlplane.Member) (authnconfig.Loaded, error) {
		asked++
		l, ok := reports[m.Name()]
		if !ok {
			return l, errors.New("no such API server")
		}
		return l, nil
	}}

	r.Health(context.Background(), c, p, true)
	if st := c.Status.Authentication; st == nil || st.ConfigHash != "" || !strings.Contains(st.Message, "kube-apiserver-b refused") {
		t.Fatalf("one API server behind: status %+v", st)
	}
	if cond := meta.FindStatusCondition(c.Status.Conditions, ConditionIdentityProviders); cond == nil || cond.Status != "False" {
		t.Fatalf("condition %+v", cond)
	}

	reports["kube-apiserver-b"] = authnconfig.Loaded{Hash: want}
	r.Health(context.Background(), c, p, true)
	if st := c.Status.Authentication; st.ConfigHash != want || !slices.Equal(st.IdentityProviders, []string{"id-1"}) || st.Message != "" {
		t.Fatalf("both loaded: status %+v", st)
	}

	asked = 0
	r.Health(context.Background(), c, p, true)
	if asked != 0 {
		t.Fatalf("a settled cluster asked the API servers %d times", asked)
	}
}
