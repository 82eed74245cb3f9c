package identityproviders

import (
	"slices"
	"time"

	"github.com/cellplane/cellplane/api/v1alpha1"
	"github.com/cellplane/cellplane/internal/authnconfig"
	"github.com/cellplane/cellplane/internal/eks"
)

// Status is a provider's EKS status: DELETING once disassociated, ACTIVE
// once every API server has loaded a configuration that holds it (the
// cell's status names it), CREATING before.
func Status(c *v1alpha1.Cluster, p v1alpha1.OIDCIdentityProvider) string {
	st := c.Status.Authentication
	switch {
	case p.Disassociating:
		return eks.ConfigStatusDeleting
	case st != nil && slices.Contains(st.IdentityProviders, p.ID):
		return eks.ConfigStatusActive
	}
	return eks.ConfigStatusCreating
}

// Dropped reports whether c has a provider being disassociated, every API
// server has loaded the configuration its spec renders to, which leaves
// that provider out, and no API server can still hold one of its tokens in
// its token cache.
func Dropped(c *v1alpha1.Cluster) bool {
	if !slices.ContainsFunc(c.Spec.IdentityProviders, func(p v1alpha1.OIDCIdentityProvider) bool { return p.Disassociating }) {
		return false
	}
	data, err := authnconfig.Render(c.Spec.IdentityProviders)
	st := c.Status.Authentication
	return err == nil && st != nil && st.ConfigHash == authnconfig.Hash(data) &&
		st.ObservedAt != nil && time.Since(st.ObservedAt.Time) >= DropDelay
}

// DropDelay is how long after every API server was seen to load a
// configuration without a provider the provider reads gone: their token
// cache's TTL, and a second more since a stored metav1.Time keeps whole
// seconds and so may read up to a second before the observation. Without
// that second a provider read gone before the caches had let go of its last
// accepted token (seen: "gone" 9.7 s after the disassociation, and a token
// accepted after it).
const DropDelay = TokenCacheTTL + time.Second

// TokenCacheTTL is how long kube-apiserver keeps a bearer token's
// successful authentication (TokenSuccessCacheTTL, 10 s, which no flag
// sets): for that long after an API server drops a provider it may still
// accept a token it accepted just before. A disassociated provider reads
// DELETING until then, so gone means refused.
const TokenCacheTTL = 10 * time.Second
