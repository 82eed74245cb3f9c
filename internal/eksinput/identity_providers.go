package eksinput

import (
	"crypto/x509"
	"encoding/pem"
	"net/url"
	"slices"
	"strings"

	"github.com/cellplane/cellplane/api/v1alpha1"
	"github.com/cellplane/cellplane/internal/eks"
	"github.com/cellplane/cellplane/internal/errdefs"
)

// Limits of an OIDC identity provider configuration, as EKS's model and
// service quotas set them.
const (
	maxRequiredClaims   = 10
	maxClaimKeyLength   = 63
	maxClaimValueLength = 253
	maxIDPFieldLength   = 255
	maxIssuerURLLength  = 1024
)

// IdentityProvider checks an AssociateIdentityProviderConfig request and
// returns the provider it asks for, without its ID.
func IdentityProvider(in *eks.AssociateIdentityProviderConfigInput) (v1alpha1.OIDCIdentityProvider, error) {
	if err := ValidateToken(in.ClientRequestToken); err != nil {
		return v1alpha1.OIDCIdentityProvider{}, err
	}
	o := in.OIDC
	if o == nil {
		return v1alpha1.OIDCIdentityProvider{}, errdefs.Publicf(errdefs.ErrInvalidParameter, "oidc is required: the OIDC identity provider configuration to associate.")
	}
	if err := IdentityProviderName(o.IdentityProviderConfigName); err != nil {
		return v1alpha1.OIDCIdentityProvider{}, err
	}
	if err := issuerURL(o.IssuerURL); err != nil {
		return v1alpha1.OIDCIdentityProvider{}, err
	}
	for _, f := range []struct{ name, value string }{
		{"clientId", o.ClientID}, {"usernameClaim", o.UsernameClaim}, {"usernamePrefix", o.UsernamePrefix},
		{"groupsClaim", o.GroupsClaim}, {"groupsPrefix", o.GroupsPrefix},
	} {
		if err := idpField(f.name, f.value); err != nil {
			return v1alpha1.OIDCIdentityProvider{}, err
		}
	}
	if o.ClientID == "" {
		return v1alpha1.OIDCIdentityProvider{}, errdefs.Publicf(errdefs.ErrInvalidParameter, "oidc.clientId is required: the audience the ID tokens are issued for.")
	}
	if err := requiredClaims(o.RequiredClaims); err != nil {
		return v1alpha1.OIDCIdentityProvider{}, err
	}
	if err := ValidateTags(in.Tags); err != nil {
		return v1alpha1.OIDCIdentityProvider{}, err
	}
	ca := ""
	if in.Cellplane != nil {
		ca = in.Cellplane.IssuerCertificateAuthority
	}
	if err := issuerCA(ca); err != nil {
		return v1alpha1.OIDCIdentityProvider{}, err
	}
	return v1alpha1.OIDCIdentityProvider{
		Name: o.IdentityProviderConfigName, IssuerURL: o.IssuerURL, ClientID: o.ClientID,
		UsernameClaim: o.UsernameClaim, UsernamePrefix: o.UsernamePrefix, GroupsClaim: o.GroupsClaim, GroupsPrefix: o.GroupsPrefix,
		RequiredClaims: o.RequiredClaims, CertificateAuthority: ca, Tags: in.Tags,
	}, nil
}

// IdentityProviderRef checks the identityProviderConfig of Describe and
// Disassociate and returns its name.
func IdentityProviderRef(ref *eks.IdentityProviderConfig) (string, error) {
	switch {
	case ref == nil:
		return "", errdefs.Publicf(errdefs.ErrInvalidParameter, "identityProviderConfig is required: {\"type\": \"oidc\", \"name\": ...}.")
	case ref.Type != eks.IdentityProviderTypeOIDC:
		return "", errdefs.Publicf(errdefs.ErrInvalidParameter, "identityProviderConfig.type must be %q; got %q.", eks.IdentityProviderTypeOIDC, ref.Type)
	}
	return ref.Name, IdentityProviderName(ref.Name)
}

// IdentityProviderName checks a configuration name: the cluster name's rules.
func IdentityProviderName(name string) error {
	if !v1alpha1.ValidName(name) {
		return errdefs.Publicf(errdefs.ErrInvalidParameter, "The identity provider config name %q is not valid: 1-100 characters, starting with a letter or digit, of letters, digits, hyphens and underscores.", name)
	}
	return nil
}

// issuerURL applies kube-apiserver's rules for a JWT issuer, so a
// configuration the region accepts is one every API server loads: https,
// a host, no user, query or fragment.
func issuerURL(raw string) error {
	if raw == "" {
		return errdefs.Publicf(errdefs.ErrInvalidParameter, "oidc.issuerUrl is required.")
	}
	u, err := url.Parse(raw)
	switch {
	case err != nil || len(raw) > maxIssuerURLLength:
		return errdefs.Publicf(errdefs.ErrInvalidParameter, "oidc.issuerUrl %q is not a URL of at most %d characters.", raw, maxIssuerURLLength)
	case u.Scheme != "https":
		return errdefs.Publicf(errdefs.ErrInvalidParameter, "oidc.issuerUrl %q must begin with https://.", raw)
	case u.Host == "":
		return errdefs.Publicf(errdefs.ErrInvalidParameter, "oidc.issuerUrl %q has no host.", raw)
	case u.User != nil || u.RawQuery != "" || u.Fragment != "" || strings.HasSuffix(raw, "?") || strings.Contains(raw, "#"):
		return errdefs.Publicf(errdefs.ErrInvalidParameter, "oidc.issuerUrl %q must not hold a user, query or fragment.", raw)
	}
	return nil
}

// idpField bounds a string field; prefixes must not reach into system:,
// which Kubernetes keeps for its own users and groups.
func idpField(name, value string) error {
	switch {
	case len(value) > maxIDPFieldLength:
		return errdefs.Publicf(errdefs.ErrInvalidParameter, "oidc.%s must be at most %d characters.", name, maxIDPFieldLength)
	case strings.HasSuffix(name, "Prefix") && strings.Contains(value, "system:"):
		return errdefs.Publicf(errdefs.ErrInvalidParameter, "oidc.%s %q must not contain system:, which Kubernetes reserves.", name, value)
	}
	return nil
}

func requiredClaims(claims map[string]string) error {
	if len(claims) > maxRequiredClaims {
		return errdefs.Publicf(errdefs.ErrInvalidParameter, "oidc.requiredClaims may hold at most %d claims; got %d.", maxRequiredClaims, len(claims))
	}
	keys := make([]string, 0, len(claims))
	for k := range claims {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		if v := claims[k]; k == "" || len(k) > maxClaimKeyLength || v == "" || len(v) > maxClaimValueLength {
			return errdefs.Publicf(errdefs.ErrInvalidParameter, "oidc.requiredClaims: claim names are 1-%d characters and values 1-%d; %q is not.", maxClaimKeyLength, maxClaimValueLength, k)
		}
	}
	return nil
}

// issuerCA checks the extension's CA bundle: certificates in PEM, nothing
// else, of a size the cluster object can carry.
func issuerCA(bundle string) error {
	if bundle == "" {
		return nil
	}
	if len(bundle) > MaxEchoBytes {
		return errdefs.Publicf(errdefs.ErrInvalidParameter, "cellplane.issuerCertificateAuthority must be at most %d bytes.", MaxEchoBytes)
	}
	rest, n := []byte(bundle), 0
	for {
		var b *pem.Block
		b, rest = pem.Decode(rest)
		if b == nil {
			break
		}
		if _, err := x509.ParseCertificate(b.Bytes); b.Type != "CERTIFICATE" || err != nil {
			return errdefs.Publicf(errdefs.ErrInvalidParameter, "cellplane.issuerCertificateAuthority must hold only PEM certificates.")
		}
		n++
	}
	if n == 0 || strings.TrimSpace(string(rest)) != "" {
		return errdefs.Publicf(errdefs.ErrInvalidParameter, "cellplane.issuerCertificateAuthority must hold only PEM certificates.")
	}
	return nil
}
