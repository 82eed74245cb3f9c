package authnconfig

import (
	"crypto/sha256"
	"fmt"
	"slices"
	"strings"

	"sigs.k8s.io/yaml"

	"github.com/cellplane/cellplane/api/v1alpha1"
)

// APIVersion is the AuthenticationConfiguration version written: v1, GA
// since Kubernetes 1.34 and served by every release cellplane runs.
const APIVersion = "apiserver.config.k8s.io/v1"

// DefaultUsernameClaim is EKS's default usernameClaim.
const DefaultUsernameClaim = "sub"

// The subset of AuthenticationConfiguration cellplane writes. It mirrors
// k8s.io/apiserver/pkg/apis/apiserver/v1 field for field, so cellplane need
// not import the API server's packages to write its file.
type (
	configuration struct {
		APIVersion string `json:"apiVersion"`
		Kind       string `json:"kind"`
		// JWT is written even when empty: kube-apiserver accepts a
		// configuration with no authenticators, which is what lets the
		// flag be on from a cluster's start.
		JWT []jwtAuthenticator `json:"jwt"`
	}
	jwtAuthenticator struct {
		Issuer               issuer                `json:"issuer"`
		ClaimValidationRules []claimValidationRule `json:"claimValidationRules,omitempty"`
		ClaimMappings        claimMappings         `json:"claimMappings"`
	}
	issuer struct {
		URL                  string   `json:"url"`
		Audiences            []string `json:"audiences"`
		CertificateAuthority string   `json:"certificateAuthority,omitempty"`
	}
	claimValidationRule struct {
		Claim         string `json:"claim"`
		RequiredValue string `json:"requiredValue"`
	}
	claimMappings struct {
		Username prefixedClaim  `json:"username"`
		Groups   *prefixedClaim `json:"groups,omitempty"`
	}
	// prefixedClaim's Prefix is a pointer in the API server's type and
	// required with a claim; the empty string is a valid prefix, so it is
	// always written.
	prefixedClaim struct {
		Claim  string `json:"claim"`
		Prefix string `json:"prefix"`
	}
)

// Render returns the configuration file for the providers that are not
// being disassociated, in the order given. The same providers always render
// to the same bytes, so the file's hash names its content.
//
// A provider being disassociated is named in a comment: without it, the
// file that drops the only provider would be the very file the cluster had
// before the provider came, and an API server that still runs the provider
// would report that file's hash from its earlier load, as if it had
// dropped it.
func Render(providers []v1alpha1.OIDCIdentityProvider) ([]byte, error) {
	cfg := configuration{APIVersion: APIVersion, Kind: "AuthenticationConfiguration", JWT: []jwtAuthenticator{}}
	for _, p := range Active(providers) {
		cfg.JWT = append(cfg.JWT, authenticatorOf(p))
	}
	b, err := yaml.Marshal(cfg)
	if err != nil {
		return nil, fmt.Errorf("encoding the authentication configuration: %w", err)
	}
	for _, p := range providers {
		if p.Disassociating {
			b = fmt.Appendf(b, "# disassociating %s (%s)\n", p.Name, p.ID)
		}
	}
	return b, nil
}

// Active lists the providers the API servers should accept tokens of: all
// but the ones being disassociated.
func Active(providers []v1alpha1.OIDCIdentityProvider) []v1alpha1.OIDCIdentityProvider {
	var out []v1alpha1.OIDCIdentityProvider
	for _, p := range providers {
		if !p.Disassociating {
			out = append(out, p)
		}
	}
	return out
}

func authenticatorOf(p v1alpha1.OIDCIdentityProvider) jwtAuthenticator {
	a := jwtAuthenticator{
		Issuer:        issuer{URL: p.IssuerURL, Audiences: []string{p.ClientID}, CertificateAuthority: p.CertificateAuthority},
		ClaimMappings: claimMappings{Username: usernameMapping(p)},
	}
	if p.GroupsClaim != "" {
		a.ClaimMappings.Groups = &prefixedClaim{Claim: p.GroupsClaim, Prefix: p.GroupsPrefix}
	}
	keys := make([]string, 0, len(p.RequiredClaims))
	for k := range p.RequiredClaims {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		a.ClaimValidationRules = append(a.ClaimValidationRules, claimValidationRule{Claim: k, RequiredValue: p.RequiredClaims[k]})
	}
	return a
}

// usernameMapping applies EKS's (and kube-apiserver's --oidc-*) defaults:
// the claim is sub unless set; without a prefix, names from any claim but
// email are prefixed with the issuer URL and "#", so they cannot pose as
// users of another authenticator; the prefix "-" turns prefixing off.
func usernameMapping(p v1alpha1.OIDCIdentityProvider) prefixedClaim {
	claim := p.UsernameClaim
	if claim == "" {
		claim = DefaultUsernameClaim
	}
	switch {
	case p.UsernamePrefix == "-":
		return prefixedClaim{Claim: claim}
	case p.UsernamePrefix == "" && claim != "email":
		return prefixedClaim{Claim: claim, Prefix: p.IssuerURL + "#"}
	}
	return prefixedClaim{Claim: claim, Prefix: p.UsernamePrefix}
}

// Hash names a configuration file's content the way kube-apiserver labels
// the one it loaded (apiserver_authentication_config_controller_last_config_info).
func Hash(data []byte) string {
	return fmt.Sprintf("sha256:%x", sha256.Sum256(data))
}

// IDs lists the IDs of the providers a rendered file holds.
func IDs(providers []v1alpha1.OIDCIdentityProvider) []string {
	var ids []string
	for _, p := range Active(providers) {
		ids = append(ids, p.ID)
	}
	return ids
}

// Describe is a short account of the providers for logs and conditions.
func Describe(providers []v1alpha1.OIDCIdentityProvider) string {
	var names []string
	for _, p := range Active(providers) {
		names = append(names, p.Name+" ("+p.IssuerURL+")")
	}
	if len(names) == 0 {
		return "no identity provider"
	}
	return strings.Join(names, ", ")
}
