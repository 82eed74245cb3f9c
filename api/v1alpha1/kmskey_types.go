package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Key states as AWS KMS spells them; the region's key service keeps only these
// two (no pending deletion or import yet).
const (
	KeyStateEnabled  = "Enabled"
	KeyStateDisabled = "Disabled"
)

// ReasonKeyDisabled is the SecretsEncryption condition's reason when the
// cluster's customer key is disabled.
const ReasonKeyDisabled = "KeyDisabled"

// ReasonSecretsSealed is the SecretsEncryption condition's reason when every
// key the cluster holds is in use and no rotation is pending: the message
// names the key that seals new writes.
const ReasonSecretsSealed = "KMSv2"

// ReasonSecretsRotating is the SecretsEncryption condition's reason while a
// rotation has keys left to retire.
const ReasonSecretsRotating = "Rotating"

// KMSKeySpec is a customer key of the region's key service, as the tenant
// created and changed it. It lives in its account's namespace, named by its
// key ID (a UUID), so another account's key is simply not there.
type KMSKeySpec struct {
	// KeyID is the key's UUID, the last part of its ARN.
	KeyID string `json:"keyId"`

	// Description is the tenant's description of the key.
	// +optional
	// +kubebuilder:validation:MaxLength=8192
	Description string `json:"description,omitempty"`

	// State is Enabled or Disabled. Clusters bound to a disabled key cannot
	// seal or open their Secrets.
	// +kubebuilder:validation:Enum=Enabled;Disabled
	State string `json:"state"`

	// Generation counts the key's material: 1 at creation, one more at each
	// rotation. The clusters bound to the key seal under a key of theirs
	// named by this generation.
	// +kubebuilder:validation:Minimum=1
	Generation int64 `json:"generation"`

	// Rotations are the key's on-demand rotations, oldest first.
	// +optional
	Rotations []KeyRotation `json:"rotations,omitempty"`
}

// KeyRotation is one rotation of a key.
type KeyRotation struct {
	// Generation is the generation the rotation made.
	Generation int64 `json:"generation"`
	// RotatedAt is when it was made.
	RotatedAt metav1.Time `json:"rotatedAt"`
}

// KMSKey is a customer key of the region's key service (the AWS KMS API).
//
// +kubebuilder:object:root=true
// +kubebuilder:printcolumn:name="Key",type=string,JSONPath=`.spec.keyId`
// +kubebuilder:printcolumn:name="State",type=string,JSONPath=`.spec.state`
// +kubebuilder:printcolumn:name="Generation",type=integer,JSONPath=`.spec.generation`
type KMSKey struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	Spec KMSKeySpec `json:"spec,omitempty"`
}

// KMSKeyList is a list of KMSKeys.
//
// +kubebuilder:object:root=true
type KMSKeyList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []KMSKey `json:"items"`
}

func init() {
	SchemeBuilder.Register(&KMSKey{}, &KMSKeyList{})
}
