package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Access entry types, as EKS spells them. cellplane serves STANDARD only.
const AccessEntryTypeStandard = "STANDARD"

// Access scope types of an associated access policy.
const (
	AccessScopeCluster   = "cluster"
	AccessScopeNamespace = "namespace"
)

// Authentication modes of a cluster's accessConfig, as EKS spells them.
const (
	AuthenticationModeAPI             = "API"
	AuthenticationModeAPIAndConfigMap = "API_AND_CONFIG_MAP"
	AuthenticationModeConfigMap       = "CONFIG_MAP"
)

// AccessEntrySpec is one principal's way into one cluster: who signs in
// (PrincipalARN), as whom Kubernetes sees them (Username, KubernetesGroups)
// and which access policies the cell's authorizer grants them. It lives in
// its account's namespace beside its cluster, and the cell that runs the
// cluster keeps a copy in its own store, so sign-in keeps working while the
// region is down.
type AccessEntrySpec struct {
	// ClusterName is the EKS name of the cluster the entry belongs to.
	ClusterName string `json:"clusterName"`

	// PrincipalARN is the IAM user or role the entry is for
	// (arn:aws:iam::<account>:user/<name> or ...:role/<name>).
	PrincipalARN string `json:"principalArn"`

	// Type is STANDARD.
	// +kubebuilder:validation:Enum=STANDARD
	Type string `json:"type"`

	// Username is the Kubernetes user name the principal signs in as.
	Username string `json:"username"`

	// KubernetesGroups are the Kubernetes groups the principal signs in
	// with, for the tenant's own RBAC bindings.
	// +optional
	KubernetesGroups []string `json:"kubernetesGroups,omitempty"`

	// AccessPolicies are the access policies associated with the entry.
	// +optional
	AccessPolicies []AssociatedAccessPolicy `json:"accessPolicies,omitempty"`

	// Tags are the entry's tags.
	// +optional
	Tags map[string]string `json:"tags,omitempty"`

	// CreatedAt and ModifiedAt are what DescribeAccessEntry reports.
	CreatedAt  metav1.Time `json:"createdAt"`
	ModifiedAt metav1.Time `json:"modifiedAt"`
}

// AssociatedAccessPolicy is one access policy granted to an access entry.
type AssociatedAccessPolicy struct {
	// PolicyARN names the policy (arn:aws:eks::aws:cluster-access-policy/...).
	PolicyARN string `json:"policyArn"`

	// Scope is where the policy applies.
	Scope AccessScope `json:"accessScope"`

	// AssociatedAt and ModifiedAt are what ListAssociatedAccessPolicies reports.
	AssociatedAt metav1.Time `json:"associatedAt"`
	ModifiedAt   metav1.Time `json:"modifiedAt"`
}

// AccessScope is the scope of an associated access policy.
type AccessScope struct {
	// Type is cluster or namespace.
	// +kubebuilder:validation:Enum=cluster;namespace
	Type string `json:"type"`

	// Namespaces are the namespaces a namespace scope covers.
	// +optional
	Namespaces []string `json:"namespaces,omitempty"`
}

// AccessEntry is one principal's access to one cluster (the EKS access entry).
//
// +kubebuilder:object:root=true
// +kubebuilder:printcolumn:name="Cluster",type=string,JSONPath=`.spec.clusterName`
// +kubebuilder:printcolumn:name="Principal",type=string,JSONPath=`.spec.principalArn`
// +kubebuilder:printcolumn:name="Username",type=string,JSONPath=`.spec.username`
type AccessEntry struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	Spec AccessEntrySpec `json:"spec,omitempty"`
}

// AccessEntryList is a list of AccessEntries.
//
// +kubebuilder:object:root=true
type AccessEntryList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []AccessEntry `json:"items"`
}

func init() {
	SchemeBuilder.Register(&AccessEntry{}, &AccessEntryList{})
}
