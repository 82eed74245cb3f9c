package identityproviders

import (
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/cellplane/cellplane/api/v1alpha1"
	"github.com/cellplane/cellplane/internal/authnconfig"
)

func loaded(ps []v1alpha1.OIDCIdentityProvider, ago time.Duration) *v1alpha1.AuthenticationStatus {
	data, _ := authnconfig.Render(ps)
	at := metav1.NewTime(time.Now().Add(-ago))
	return &v1alpha1.AuthenticationStatus{ConfigHash: authnconfig.Hash(data), IdentityProviders: authnconfig.IDs(ps), ObservedAt: &at}
}

// TestStatusAndDropped: ACTIVE only for an ID every API server loaded;
// dropped only once the configuration without it is loaded everywhere and
// the token cache has lapsed, never on the hash of the file from before
// the provider came.
func TestStatusAndDropped(t *testing.T) {
	p := v1alpha1.OIDCIdentityProvider{Name: "corp", ID: "id-1", IssuerURL: "https://i", ClientID: "c"}
	going := p
	going.Disassociating = true
	for _, tc := range []struct {
		name    string
		spec    v1alpha1.OIDCIdentityProvider
		st      *v1alpha1.AuthenticationStatus
		status  string
		dropped bool
	}{
		{"new", p, nil, "CREATING", false},
		{"loaded", p, loaded([]v1alpha1.OIDCIdentityProvider{p}, 0), "ACTIVE", false},
		{"other id loaded", p, loaded([]v1alpha1.OIDCIdentityProvider{{Name: "corp", ID: "id-0", IssuerURL: "https://i", ClientID: "c"}}, 0), "CREATING", false},
		{"going, still loaded", going, loaded([]v1alpha1.OIDCIdentityProvider{p}, time.Minute), "DELETING", false},
		{"going, empty file from before", going, loaded(nil, time.Minute), "DELETING", false},
		{"going, dropped just now", going, loaded([]v1alpha1.OIDCIdentityProvider{going}, 0), "DELETING", false},
		{"going, dropped a cache TTL ago by a whole-second clock", going, loaded([]v1alpha1.OIDCIdentityProvider{going}, TokenCacheTTL), "DELETING", false},
		{"going, dropped", going, loaded([]v1alpha1.OIDCIdentityProvider{going}, DropDelay), "DELETING", true},
	} {
		c := &v1alpha1.Cluster{Spec: v1alpha1.ClusterSpec{IdentityProviders: []v1alpha1.OIDCIdentityProvider{tc.spec}}, Status: v1alpha1.ClusterStatus{Authentication: tc.st}}
		if got := Status(c, tc.spec); got != tc.status {
			t.Errorf("%s: status %s, want %s", tc.name, got, tc.status)
		}
		if got := Dropped(c); got != tc.dropped {
			t.Errorf("%s: dropped %v, want %v", tc.name, got, tc.dropped)
		}
	}
}

func TestPaginate(t *testing.T) {
	names := []string{"a", "b", "c"}
	page, next, err := paginate(names, "", 2)
	if err != nil || len(page) != 2 || next == "" {
		t.Fatalf("first page %v %q %v", page, next, err)
	}
	if page, next, err = paginate(names, next, 2); err != nil || len(page) != 1 || page[0] != "c" || next != "" {
		t.Fatalf("second page %v %q %v", page, next, err)
	}
	if _, _, err := paginate(names, "garbage", 2); err == nil {
		t.Fatal("a foreign token was accepted")
	}
}
