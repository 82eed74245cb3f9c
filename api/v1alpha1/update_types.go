package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Update types, spelled as EKS spells them on the wire.
const (
	UpdateTypeVersion = "VersionUpdate"
	// UpdateTypeVersionRollback returns a cluster to the minor it ran before
	// its last upgrade.
	UpdateTypeVersionRollback = "VersionRollback"
	UpdateTypeLogging         = "LoggingUpdate"
	UpdateTypeEndpointAccess  = "EndpointAccessUpdate"
	UpdateTypeConfig          = "ConfigUpdate"
	// UpdateTypeDeletionProtection turns a cluster's deletion protection on or off.
	UpdateTypeDeletionProtection = "DeletionProtectionUpdate"
	// UpdateTypeCertificateAuthority is one step of a CA rotation: a CA
	// created, activated or deleted.
	UpdateTypeCertificateAuthority = "CertificateAuthorityUpdate"
	// UpdateTypeAccessConfig moves a cluster's authentication mode towards API.
	UpdateTypeAccessConfig = "AccessConfigUpdate"
)

// Update statuses, spelled as EKS spells them on the wire.
const (
	UpdateInProgress = "InProgress"
	UpdateSuccessful = "Successful"
	UpdateFailed     = "Failed"
	// UpdateCancelled ends an identity provider association whose provider
	// was disassociated before every API server loaded it.
	UpdateCancelled = "Cancelled"
)

// LabelCluster names the Cluster object an update belongs to.
const LabelCluster = "cellplane.io/cluster"

// UpdateParam is one parameter of an update, as EKS reports it.
type UpdateParam struct {
	// Type names the parameter, for example "Version" or "ClusterLogging".
	Type string `json:"type"`
	// Value is the parameter's new value; JSON for structured parameters.
	// +optional
	Value string `json:"value,omitempty"`
}

// UpdateError is one error an update ran into.
type UpdateError struct {
	// ErrorCode is EKS's error code, for example "Unknown".
	// +optional
	ErrorCode string `json:"errorCode,omitempty"`
	// ErrorMessage explains the error.
	// +optional
	ErrorMessage string `json:"errorMessage,omitempty"`
	// ResourceIDs names the resources the error concerns.
	// +optional
	ResourceIDs []string `json:"resourceIds,omitempty"`
}

// ClusterUpdateSpec is the change a tenant asked for.
type ClusterUpdateSpec struct {
	// ID is the update's ID on the wire, a UUID.
	ID string `json:"id"`

	// ClusterName is the object name of the Cluster the update changes.
	ClusterName string `json:"clusterName"`
	// NodegroupName names the node group the update changes; empty for an
	// update of the cluster itself.
	// +optional
	NodegroupName string `json:"nodegroupName,omitempty"`

	// Type is one of VersionUpdate, VersionRollback, LoggingUpdate, EndpointAccessUpdate,
	// ConfigUpdate, DeletionProtectionUpdate, AssociateEncryptionConfig,
	// CertificateAuthorityUpdate, AccessConfigUpdate, AssociateIdentityProviderConfig,
	// DisassociateIdentityProviderConfig, AddonUpdate.
	// +kubebuilder:validation:Enum=VersionUpdate;VersionRollback;LoggingUpdate;EndpointAccessUpdate;ConfigUpdate;DeletionProtectionUpdate;UpgradePolicyUpdate;AssociateEncryptionConfig;CertificateAuthorityUpdate;AccessConfigUpdate;AssociateIdentityProviderConfig;DisassociateIdentityProviderConfig;AddonUpdate
	Type string `json:"type"`

	// Params are the update's parameters.
	// +optional
	Params []UpdateParam `json:"params,omitempty"`

	// ClientRequestToken is the idempotency token of the call that made the update.
	// +optional
	ClientRequestToken string `json:"clientRequestToken,omitempty"`

	// Addon names the add-on an AddonUpdate changes; ListUpdates and
	// DescribeUpdate show it only under its addonName.
	// +optional
	Addon string `json:"addon,omitempty"`
}

// ClusterUpdateStatus is how far the update got.
type ClusterUpdateStatus struct {
	// Status is one of InProgress, Failed, Cancelled, Successful.
	// +optional
	// +kubebuilder:validation:Enum=InProgress;Failed;Cancelled;Successful
	Status string `json:"status,omitempty"`

	// Errors lists what went wrong when the update failed.
	// +optional
	Errors []UpdateError `json:"errors,omitempty"`

	// Cancellation is the latest CancelUpdate of the update, when there was
	// one.
	// +optional
	Cancellation *UpdateCancellation `json:"cancellation,omitempty"`
}

// UpdateCancellation is EKS's Cancellation of an update.
type UpdateCancellation struct {
	// Status is InProgress, Failed or Successful.
	// +kubebuilder:validation:Enum=InProgress;Failed;Successful
	Status string `json:"status"`
	// Reason says why the cancellation failed, or what it did.
	// +optional
	Reason string `json:"reason,omitempty"`
}

// ClusterUpdate records one change to a Cluster, as EKS's DescribeUpdate shows it.
//
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:printcolumn:name="Cluster",type=string,JSONPath=`.spec.clusterName`
// +kubebuilder:printcolumn:name="Type",type=string,JSONPath=`.spec.type`
// +kubebuilder:printcolumn:name="Status",type=string,JSONPath=`.status.status`
// +kubebuilder:printcolumn:name="ID",type=string,JSONPath=`.spec.id`
type ClusterUpdate struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	Spec   ClusterUpdateSpec   `json:"spec,omitempty"`
	Status ClusterUpdateStatus `json:"status,omitempty"`
}

// ClusterUpdateList is a list of ClusterUpdates.
//
// +kubebuilder:object:root=true
type ClusterUpdateList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []ClusterUpdate `json:"items"`
}

func init() {
	SchemeBuilder.Register(&ClusterUpdate{}, &ClusterUpdateList{})
}
