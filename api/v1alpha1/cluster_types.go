package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Cluster statuses, spelled as EKS spells them on the wire.
const (
	StatusCreating = "CREATING"
	StatusActive   = "ACTIVE"
	StatusUpdating = "UPDATING"
	StatusDeleting = "DELETING"
	StatusFailed   = "FAILED"
)

// Condition types reported on a Cluster.
const (
	// ConditionPKIReady: every certificate and key of the cluster exists and verifies.
	ConditionPKIReady = "PKIReady"
	// ConditionEtcdReady: all etcd members answer /health over mutual TLS.
	ConditionEtcdReady = "EtcdReady"
	// ConditionAPIServersReady: every kube-apiserver answers /readyz.
	ConditionAPIServersReady = "APIServersReady"
	// ConditionControllersReady: controller-manager and scheduler instances are healthy.
	ConditionControllersReady = "ControllersReady"
	// ConditionEndpointReady: an authenticated request through the endpoint succeeds.
	ConditionEndpointReady = "EndpointReady"
	// ConditionReady summarises the others: the cluster is ACTIVE.
	ConditionReady = "Ready"
)

// Finalizers.
const (
	// CellFinalizer keeps a cell's Cluster until its processes and files are gone.
	CellFinalizer = "cellplane.io/control-plane"
	// RegionFinalizer keeps the region's Cluster until its cell has let go of it.
	RegionFinalizer = "cellplane.io/cell-release"
)

// Labels and annotations.
const (
	// LabelCell names the cell a Cluster is placed in.
	LabelCell = "cellplane.io/cell"
	// LabelAccount names the account that owns a Cluster.
	LabelAccount = "cellplane.io/account"
)

// ClusterSpec is what the tenant asked for.
type ClusterSpec struct {
	// Name is the cluster's name as the tenant spelled it (EKS rules: letters,
	// digits, hyphens and underscores). The object name is derived from it.
	Name string `json:"name"`

	// Version is the Kubernetes minor, for example "1.35".
	Version string `json:"version"`

	// Cell is the cell the region placed the cluster in.
	// +optional
	Cell string `json:"cell,omitempty"`

	// Tags are the tenant's key-value tags.
	// +optional
	Tags map[string]string `json:"tags,omitempty"`

	// ClientRequestToken is the idempotency token of the create call.
	// +optional
	ClientRequestToken string `json:"clientRequestToken,omitempty"`
}

// ComponentStatus is one process of the control plane as last observed.
type ComponentStatus struct {
	// Name is the component instance, for example "etcd-a" or "kube-apiserver-b".
	Name string `json:"name"`
	// Zone is the zone the instance runs in.
	Zone string `json:"zone"`
	// Address is the instance's stable address (host:port).
	Address string `json:"address"`
	// PID is the operating-system process ID, when running.
	// +optional
	PID int `json:"pid,omitempty"`
	// Ready is true when the instance's health check passes.
	Ready bool `json:"ready"`
	// Restarts counts restarts after crashes.
	// +optional
	Restarts int32 `json:"restarts,omitempty"`
	// Message explains why the instance is not ready.
	// +optional
	Message string `json:"message,omitempty"`
}

// ClusterStatus is what the cell observed.
type ClusterStatus struct {
	// Status is one of CREATING, ACTIVE, UPDATING, DELETING, FAILED.
	// +optional
	Status string `json:"status,omitempty"`

	// Reason says, in words a user can act on, why the cluster is FAILED or not yet ACTIVE.
	// +optional
	Reason string `json:"reason,omitempty"`

	// Slot is the cluster's index in its cell's address plan. It fixes every
	// address of the cluster for its lifetime.
	// +optional
	Slot *int32 `json:"slot,omitempty"`

	// Endpoint is the cluster's API endpoint (https URL through the cell's load balancer).
	// +optional
	Endpoint string `json:"endpoint,omitempty"`

	// CertificateAuthorityData is the base64-encoded Kubernetes CA certificate.
	// +optional
	CertificateAuthorityData string `json:"certificateAuthorityData,omitempty"`

	// KubernetesVersion is the exact version the API servers run, for example "v1.35.4".
	// +optional
	KubernetesVersion string `json:"kubernetesVersion,omitempty"`

	// Components lists every process of the control plane.
	// +optional
	Components []ComponentStatus `json:"components,omitempty"`

	// ActiveAt is when the cluster first became ACTIVE.
	// +optional
	ActiveAt *metav1.Time `json:"activeAt,omitempty"`

	// ObservedGeneration is the generation the status describes.
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`

	// Conditions report each part of the control plane.
	// +optional
	// +listType=map
	// +listMapKey=type
	Conditions []metav1.Condition `json:"conditions,omitempty"`
}

// Cluster is one tenant's Kubernetes control plane.
//
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:printcolumn:name="Name",type=string,JSONPath=`.spec.name`
// +kubebuilder:printcolumn:name="Version",type=string,JSONPath=`.spec.version`
// +kubebuilder:printcolumn:name="Cell",type=string,JSONPath=`.spec.cell`
// +kubebuilder:printcolumn:name="Status",type=string,JSONPath=`.status.status`
// +kubebuilder:printcolumn:name="Endpoint",type=string,JSONPath=`.status.endpoint`
type Cluster struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	Spec   ClusterSpec   `json:"spec,omitempty"`
	Status ClusterStatus `json:"status,omitempty"`
}

// ClusterList is a list of Clusters.
//
// +kubebuilder:object:root=true
type ClusterList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []Cluster `json:"items"`
}

func init() {
	SchemeBuilder.Register(&Cluster{}, &ClusterList{})
}
