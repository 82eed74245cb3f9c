package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// How an add-on's apply treats fields another field manager owns, as EKS
// spells resolveConflicts.
const (
	ResolveConflictsNone      = "NONE"
	ResolveConflictsOverwrite = "OVERWRITE"
	ResolveConflictsPreserve  = "PRESERVE"
)

// UpdateTypeAddon is an UpdateAddon call's update.
const UpdateTypeAddon = "AddonUpdate"

// AddonFinalizer holds a region add-on until the cell has removed (or, with
// Preserve, let go of) its objects in the tenant cluster.
const AddonFinalizer = "cellplane.io/addon"

// AnnotationRegionGeneration is set on the cell's copy of an add-on: the
// generation of the region object it copies, which the cell reports back as
// the generation it applied.
const AnnotationRegionGeneration = "cellplane.io/region-generation"

// Outcomes of the cell's last apply of an add-on.
const (
	AddonApplied = "Applied"
	AddonFailed  = "Failed"
)

// AddonSpec is one managed add-on of one cluster (EKS's add-on): which
// software at which version, and how its apply treats other field managers.
// It lives in its account's namespace beside its cluster; the cell that runs
// the cluster keeps a copy and applies the add-on's objects into the tenant
// cluster.
type AddonSpec struct {
	// ClusterName is the EKS name of the cluster the add-on belongs to.
	ClusterName string `json:"clusterName"`

	// AddonName is the add-on's EKS name.
	// +kubebuilder:validation:Enum=coredns;kube-proxy
	AddonName string `json:"addonName"`

	// AddonVersion is the add-on's version, as the catalogue names it
	// (v1.35.4-eksbuild.1).
	AddonVersion string `json:"addonVersion"`

	// ID makes the add-on's ARN unique across add-ons of the same name.
	ID string `json:"id"`

	// ResolveConflicts is how the apply treats fields another field
	// manager owns: NONE fails, OVERWRITE takes them, PRESERVE leaves them.
	// +kubebuilder:validation:Enum=NONE;OVERWRITE;PRESERVE
	// +optional
	ResolveConflicts string `json:"resolveConflicts,omitempty"`

	// ConfigurationValues is the add-on's configuration, JSON the add-on's
	// schema accepts.
	// +optional
	ConfigurationValues string `json:"configurationValues,omitempty"`

	// UpdateID names the add-on's latest update; every UpdateAddon sets it,
	// so even an update that changes nothing else is a new generation the
	// cell applies.
	// +optional
	UpdateID string `json:"updateId,omitempty"`

	// Preserve, set by DeleteAddon, leaves the add-on's objects in the
	// tenant cluster when the add-on goes.
	// +optional
	Preserve bool `json:"preserve,omitempty"`

	// Tags are the add-on's tags.
	// +optional
	Tags map[string]string `json:"tags,omitempty"`

	// CreatedAt and ModifiedAt are what DescribeAddon reports.
	CreatedAt  metav1.Time `json:"createdAt"`
	ModifiedAt metav1.Time `json:"modifiedAt"`
}

// AddonStatus is what the cell saw when it last applied the add-on.
type AddonStatus struct {
	// ObservedGeneration is the region generation of the spec last applied.
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`

	// Result is Applied or Failed: whether the last apply went through.
	// +kubebuilder:validation:Enum=Applied;Failed
	// +optional
	Result string `json:"result,omitempty"`

	// EverApplied is set once an apply went through: a later failure is an
	// update's, not the creation's.
	// +optional
	EverApplied bool `json:"everApplied,omitempty"`

	// Issues are the add-on's health issues, as EKS reports them.
	// +optional
	Issues []AddonIssue `json:"issues,omitempty"`

	// Removed is set on the cell's copy once its objects are gone from the
	// tenant cluster (or left there, with Preserve).
	// +optional
	Removed bool `json:"removed,omitempty"`
}

// AddonIssue is one health issue of an add-on.
type AddonIssue struct {
	// Code is EKS's issue code, for example InsufficientNumberOfReplicas.
	Code string `json:"code"`
	// Message explains the issue.
	// +optional
	Message string `json:"message,omitempty"`
	// ResourceIDs names the tenant objects concerned.
	// +optional
	ResourceIDs []string `json:"resourceIds,omitempty"`
}

// Addon is one managed add-on of one cluster (the EKS add-on).
//
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:printcolumn:name="Cluster",type=string,JSONPath=`.spec.clusterName`
// +kubebuilder:printcolumn:name="Addon",type=string,JSONPath=`.spec.addonName`
// +kubebuilder:printcolumn:name="Version",type=string,JSONPath=`.spec.addonVersion`
// +kubebuilder:printcolumn:name="Result",type=string,JSONPath=`.status.result`
type Addon struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	Spec   AddonSpec   `json:"spec,omitempty"`
	Status AddonStatus `json:"status,omitempty"`
}

// AddonList is a list of Addons.
//
// +kubebuilder:object:root=true
type AddonList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []Addon `json:"items"`
}

// AddonObjectName names the object of a cluster's add-on: the store itself
// refuses a second add-on of a name on one cluster.
func AddonObjectName(clusterObject, addon string) string {
	return clusterObject + "-addon-" + addon
}

func init() {
	SchemeBuilder.Register(&Addon{}, &AddonList{})
}
