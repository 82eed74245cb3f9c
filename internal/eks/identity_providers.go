package eks

// IdentityProviderTypeOIDC is the one identity provider type EKS has.
const IdentityProviderTypeOIDC = "oidc"

// Identity provider configuration statuses (EKS's ConfigStatus).
const (
	ConfigStatusCreating = "CREATING"
	ConfigStatusActive   = "ACTIVE"
	ConfigStatusDeleting = "DELETING"
)

const (
	// UpdateTypeAssociateIdentityProviderConfig adds an OIDC provider.
	UpdateTypeAssociateIdentityProviderConfig = "AssociateIdentityProviderConfig"
	// UpdateTypeDisassociateIdentityProviderConfig removes one.
	UpdateTypeDisassociateIdentityProviderConfig = "DisassociateIdentityProviderConfig"
	// UpdateParamIdentityProviderConfig is the configuration's type and
	// name as JSON: [{"type":"oidc","name":"..."}].
	UpdateParamIdentityProviderConfig = "IdentityProviderConfig"
)

// Limits of ListIdentityProviderConfigs, as EKS sets them.
const (
	MinListIdentityProviderConfigsResults     = 1
	MaxListIdentityProviderConfigsResults     = 100
	DefaultListIdentityProviderConfigsResults = 100
)

// OidcIdentityProviderConfigRequest is the oidc object of
// AssociateIdentityProviderConfig.
type OidcIdentityProviderConfigRequest struct {
	IdentityProviderConfigName string            `json:"identityProviderConfigName"`
	IssuerURL                  string            `json:"issuerUrl"`
	ClientID                   string            `json:"clientId"`
	UsernameClaim              string            `json:"usernameClaim,omitempty"`
	UsernamePrefix             string            `json:"usernamePrefix,omitempty"`
	GroupsClaim                string            `json:"groupsClaim,omitempty"`
	GroupsPrefix               string            `json:"groupsPrefix,omitempty"`
	RequiredClaims             map[string]string `json:"requiredClaims,omitempty"`
}

// IdentityProviderExtension is cellplane's addition to
// AssociateIdentityProviderConfig, under "cellplane".
type IdentityProviderExtension struct {
	// IssuerCertificateAuthority is the PEM bundle the API servers verify
	// the issuer's TLS certificate with, for an issuer whose certificate
	// no public CA signed; the system's roots without it.
	IssuerCertificateAuthority string `json:"issuerCertificateAuthority,omitempty"`
}

// AssociateIdentityProviderConfigInput is the body of
// POST /clusters/{clusterName}/identity-provider-configs/associate.
type AssociateIdentityProviderConfigInput struct {
	OIDC               *OidcIdentityProviderConfigRequest `json:"oidc"`
	Tags               map[string]string                  `json:"tags,omitempty"`
	ClientRequestToken string                             `json:"clientRequestToken,omitempty"`
	Cellplane          *IdentityProviderExtension         `json:"cellplane,omitempty"`
}

// AssociateIdentityProviderConfigOutput is its answer.
type AssociateIdentityProviderConfigOutput struct {
	Update *Update           `json:"update"`
	Tags   map[string]string `json:"tags,omitempty"`
}

// IdentityProviderConfig names a configuration: its type (oidc) and name.
type IdentityProviderConfig struct {
	Type string `json:"type"`
	Name string `json:"name"`
}

// DescribeIdentityProviderConfigInput is the body of
// POST /clusters/{clusterName}/identity-provider-configs/describe.
type DescribeIdentityProviderConfigInput struct {
	IdentityProviderConfig *IdentityProviderConfig `json:"identityProviderConfig"`
}

// DescribeIdentityProviderConfigOutput is its answer.
type DescribeIdentityProviderConfigOutput struct {
	IdentityProviderConfig *IdentityProviderConfigResponse `json:"identityProviderConfig"`
}

// IdentityProviderConfigResponse holds the described configuration.
type IdentityProviderConfigResponse struct {
	OIDC *OidcIdentityProviderConfig `json:"oidc,omitempty"`
}

// OidcIdentityProviderConfig is an OIDC configuration as EKS describes it.
type OidcIdentityProviderConfig struct {
	IdentityProviderConfigName string            `json:"identityProviderConfigName"`
	IdentityProviderConfigArn  string            `json:"identityProviderConfigArn"`
	ClusterName                string            `json:"clusterName"`
	IssuerURL                  string            `json:"issuerUrl"`
	ClientID                   string            `json:"clientId"`
	UsernameClaim              string            `json:"usernameClaim,omitempty"`
	UsernamePrefix             string            `json:"usernamePrefix,omitempty"`
	GroupsClaim                string            `json:"groupsClaim,omitempty"`
	GroupsPrefix               string            `json:"groupsPrefix,omitempty"`
	RequiredClaims             map[string]string `json:"requiredClaims,omitempty"`
	Tags                       map[string]string `json:"tags"`
	Status                     string            `json:"status"`
}

// DisassociateIdentityProviderConfigInput is the body of
// POST /clusters/{clusterName}/identity-provider-configs/disassociate.
type DisassociateIdentityProviderConfigInput struct {
	IdentityProviderConfig *IdentityProviderConfig `json:"identityProviderConfig"`
	ClientRequestToken     string                  `json:"clientRequestToken,omitempty"`
}

// ListIdentityProviderConfigsOutput is the body of
// GET /clusters/{clusterName}/identity-provider-configs.
type ListIdentityProviderConfigsOutput struct {
	IdentityProviderConfigs []IdentityProviderConfig `json:"identityProviderConfigs"`
	NextToken               string                   `json:"nextToken,omitempty"`
}
