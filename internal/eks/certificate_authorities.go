package eks

// The wire shapes of the CA rotation operations (CreateCertificateAuthority,
// ActivateCertificateAuthority, DescribeCertificateAuthority,
// ListCertificateAuthorities, DeleteCertificateAuthority), as the SDKs'
// models spell them.

// UpdateTypeCertificateAuthority is the type of the Update each rotation step records.
const UpdateTypeCertificateAuthority = "CertificateAuthorityUpdate"

// Limits of ListCertificateAuthorities.
const (
	MinListCAResults     = 1
	MaxListCAResults     = 100
	DefaultListCAResults = 100
)

// CertificateAuthorityInput is the body of the create and activate calls.
type CertificateAuthorityInput struct {
	ClientRequestToken string `json:"clientRequestToken,omitempty"`
}

// CertificateAuthoritySummary is EKS's CertificateAuthoritySummary.
type CertificateAuthoritySummary struct {
	ID                 string     `json:"id"`
	CreatedAt          *Timestamp `json:"createdAt,omitempty"`
	CreatedBy          string     `json:"createdBy,omitempty"`
	ActivatedAt        *Timestamp `json:"activatedAt,omitempty"`
	ActivatedBy        string     `json:"activatedBy,omitempty"`
	SigningStatus      string     `json:"signingStatus"`
	DistributionStatus string     `json:"distributionStatus"`
}

// CertificateAuthority is EKS's CertificateAuthority: the summary and the
// certificate itself.
type CertificateAuthority struct {
	CertificateAuthoritySummary
	Data              string                        `json:"data,omitempty"`
	Validity          *CertificateAuthorityValidity `json:"validity,omitempty"`
	RollbackAvailable *bool                         `json:"rollbackAvailable,omitempty"`
}

// CertificateAuthorityValidity bounds a CA certificate's validity.
type CertificateAuthorityValidity struct {
	NotBefore *Timestamp `json:"notBefore,omitempty"`
	NotAfter  *Timestamp `json:"notAfter,omitempty"`
}

// CertificateAuthorityUpdateOutput answers create, activate and delete.
type CertificateAuthorityUpdateOutput struct {
	CertificateAuthority *CertificateAuthoritySummary `json:"certificateAuthority"`
	Update               *Update                      `json:"update"`
}

// DescribeCertificateAuthorityOutput answers DescribeCertificateAuthority.
type DescribeCertificateAuthorityOutput struct {
	CertificateAuthority *CertificateAuthority `json:"certificateAuthority"`
}

// ListCertificateAuthoritiesOutput answers ListCertificateAuthorities.
type ListCertificateAuthoritiesOutput struct {
	CertificateAuthorities []CertificateAuthoritySummary `json:"certificateAuthorities"`
	NextToken              string                        `json:"nextToken,omitempty"`
}

// ActiveCertificateAuthority names the signer in DescribeCluster's
// certificateAuthority.active.
type ActiveCertificateAuthority struct {
	ID          string `json:"id,omitempty"`
	ActivatedBy string `json:"activatedBy,omitempty"`
}
