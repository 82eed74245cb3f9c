package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Who created or activated a cluster's CA, spelled as EKS spells it.
const (
	CABySystem   = "EKS"      // the service: a cluster's first CA
	CAByCustomer = "CUSTOMER" // CreateCertificateAuthority / ActivateCertificateAuthority
)

// A CA's distribution status: whether every component of the cluster trusts
// it (COMPLETE), or, once it is deleted, still trusts it (DELETING).
const (
	CADistributionInProgress = "IN_PROGRESS"
	CADistributionComplete   = "COMPLETE"
	CADistributionFailed     = "FAILED"
	CADistributionDeleting   = "DELETING"
)

// A CA's signing status: IN_USE once every certificate of the control plane
// is signed by it and served, ACTIVATING on the way there, NOT_USED otherwise.
const (
	CASigningInUse      = "IN_USE"
	CASigningActivating = "ACTIVATING"
	CASigningNotUsed    = "NOT_USED"
)

// CertificateAuthority is one Kubernetes CA the tenant wants the cluster to
// trust, in ClusterSpec.CertificateAuthorities. The region writes the list;
// the cell makes the CAs, distributes them and reports in
// ClusterStatus.CertificateAuthorities.
type CertificateAuthority struct {
	// ID names the CA on the wire. The cluster's first CA has an ID derived
	// from its certificate; later ones a UUID the region chose.
	ID string `json:"id"`
	// CreatedBy is EKS or CUSTOMER.
	CreatedBy string `json:"createdBy"`
	// CreatedAt is when the region accepted the CA.
	CreatedAt metav1.Time `json:"createdAt"`
	// Signer marks the one CA that signs the control plane's certificates.
	// +optional
	Signer bool `json:"signer,omitempty"`
	// ActivatedBy and ActivatedAt say who last made the CA the signer, when.
	// +optional
	ActivatedBy string `json:"activatedBy,omitempty"`
	// +optional
	ActivatedAt *metav1.Time `json:"activatedAt,omitempty"`
}

// CertificateAuthorityStatus is one CA as the cell last saw it: the CAs of
// the spec, plus those deleted from it that components still trust.
type CertificateAuthorityStatus struct {
	// ID is the CA's ID as in the spec.
	ID string `json:"id"`
	// Data is the CA certificate, PEM, base64-encoded as EKS shows it.
	// +optional
	Data string `json:"data,omitempty"`
	// NotBefore and NotAfter bound the CA certificate's validity.
	// +optional
	NotBefore *metav1.Time `json:"notBefore,omitempty"`
	// +optional
	NotAfter *metav1.Time `json:"notAfter,omitempty"`
	// Distribution is IN_PROGRESS, COMPLETE, FAILED or DELETING.
	Distribution string `json:"distribution"`
	// Signing is IN_USE, ACTIVATING or NOT_USED.
	Signing string `json:"signing"`
	// Message says what the cell waits for, or why distribution failed.
	// +optional
	Message string `json:"message,omitempty"`
}
