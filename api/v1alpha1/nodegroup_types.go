package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Node kinds a node group runs, chosen by its amiType as EKS spells the
// field. cellplane's own values replace EKS's AMI names: there are no
// machine images here, only the two ways the cell runs a node.
const (
	// AMITypeKubelet is a real kubelet in a small machine of its own
	// (network namespace, containerd); the default.
	AMITypeKubelet = "CELLPLANE_KUBELET"
	// AMITypeHollow is a kubemark hollow node: it registers, heartbeats and
	// runs pods in a fake runtime, cheap enough for hundreds on one machine.
	AMITypeHollow = "CELLPLANE_HOLLOW"
)

// Node group statuses, as EKS spells them.
const (
	NodeGroupCreating     = "CREATING"
	NodeGroupActive       = "ACTIVE"
	NodeGroupUpdating     = "UPDATING"
	NodeGroupDeleting     = "DELETING"
	NodeGroupCreateFailed = "CREATE_FAILED"
	NodeGroupDeleteFailed = "DELETE_FAILED"
	NodeGroupDegraded     = "DEGRADED"
)

// LabelNodeGroup names the node group a node, or a cell object, belongs to.
const LabelNodeGroup = "cellplane.io/nodegroup"

// FinalizerNodeGroup holds a node group until the cell that runs it has
// stopped its nodes: the region's object until the cell's copy is gone, the
// cell's copy until no node process, file or Node is left.
const FinalizerNodeGroup = "cellplane.io/nodegroup"

// NodeGroupScaling is a node group's scalingConfig.
type NodeGroupScaling struct {
	// +kubebuilder:validation:Minimum=0
	MinSize int32 `json:"minSize"`
	// +kubebuilder:validation:Minimum=1
	MaxSize int32 `json:"maxSize"`
	// +kubebuilder:validation:Minimum=0
	DesiredSize int32 `json:"desiredSize"`
}

// NodeGroupTaint is one taint every node of the group carries; Effect is
// spelled the EKS way (NO_SCHEDULE, NO_EXECUTE, PREFER_NO_SCHEDULE).
type NodeGroupTaint struct {
	Key string `json:"key"`
	// +optional
	Value string `json:"value,omitempty"`
	// +kubebuilder:validation:Enum=NO_SCHEDULE;NO_EXECUTE;PREFER_NO_SCHEDULE
	Effect string `json:"effect"`
}

// NodeGroupSpec is a managed node group as the tenant asked for it.
type NodeGroupSpec struct {
	// ClusterName is the EKS name of the cluster the group belongs to.
	ClusterName string `json:"clusterName"`
	// NodegroupName is the group's EKS name.
	NodegroupName string `json:"nodegroupName"`
	// AMIType is the kind of node: CELLPLANE_KUBELET or CELLPLANE_HOLLOW.
	// +kubebuilder:validation:Enum=CELLPLANE_KUBELET;CELLPLANE_HOLLOW
	AMIType string `json:"amiType"`
	// Version is the Kubernetes minor the nodes run.
	Version string `json:"version"`
	// ReleaseVersion is the node release (the patch release of the kubelet).
	ReleaseVersion string `json:"releaseVersion"`
	// Scaling is the group's size.
	Scaling NodeGroupScaling `json:"scalingConfig"`
	// MaxUnavailable is how many nodes a rolling change may take down at once.
	// +optional
	MaxUnavailable int32 `json:"maxUnavailable,omitempty"`
	// Rollout counts the group's version updates: a node started under an
	// earlier rollout is replaced.
	// +optional
	Rollout int32 `json:"rollout,omitempty"`
	// Labels are set on every node.
	// +optional
	Labels map[string]string `json:"labels,omitempty"`
	// Taints are set on every node.
	// +optional
	Taints []NodeGroupTaint `json:"taints,omitempty"`
	// Zones are the cell zones the nodes spread over, from the subnets the
	// tenant named (or every zone).
	Zones []string `json:"zones"`
	// Subnets, InstanceTypes, CapacityType, DiskSize and NodeRole are
	// echoed as the tenant gave them: cellplane has no use for them.
	// +optional
	Subnets []string `json:"subnets,omitempty"`
	// +optional
	InstanceTypes []string `json:"instanceTypes,omitempty"`
	// +optional
	CapacityType string `json:"capacityType,omitempty"`
	// +optional
	DiskSize int32 `json:"diskSize,omitempty"`
	// +optional
	NodeRole string `json:"nodeRole,omitempty"`
	// Tags are the group's tags.
	// +optional
	Tags map[string]string `json:"tags,omitempty"`
	// ClientRequestToken is the idempotency token of the CreateNodegroup
	// call that made the group.
	// +optional
	ClientRequestToken string `json:"clientRequestToken,omitempty"`
	// CreatedAt and ModifiedAt are what DescribeNodegroup reports.
	CreatedAt  metav1.Time `json:"createdAt"`
	ModifiedAt metav1.Time `json:"modifiedAt"`
}

// NodeGroupIssue is one health issue, as EKS's Issue.
type NodeGroupIssue struct {
	Code    string `json:"code"`
	Message string `json:"message"`
	// +optional
	ResourceIDs []string `json:"resourceIds,omitempty"`
}

// NodeGroupStatus is what the cell that runs the group reports.
type NodeGroupStatus struct {
	// ObservedGeneration is the generation of the spec the status is of.
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`
	// Phase is CREATING, ACTIVE, CREATE_FAILED or DEGRADED; the region
	// derives UPDATING and DELETING from the spec.
	// +optional
	Phase string `json:"phase,omitempty"`
	// Nodes are the names of the group's nodes that run.
	// +optional
	Nodes []string `json:"nodes,omitempty"`
	// ReadyNodes counts the nodes whose Node is Ready.
	// +optional
	ReadyNodes int32 `json:"readyNodes,omitempty"`
	// Issues are the group's health issues.
	// +optional
	Issues []NodeGroupIssue `json:"issues,omitempty"`
}

// NodeGroup is a managed node group of a cluster (the EKS nodegroup). The
// region stores it beside its cluster; the cell that runs the cluster keeps a
// copy, runs its nodes and reports their state back.
//
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:printcolumn:name="Cluster",type=string,JSONPath=`.spec.clusterName`
// +kubebuilder:printcolumn:name="Nodegroup",type=string,JSONPath=`.spec.nodegroupName`
// +kubebuilder:printcolumn:name="Type",type=string,JSONPath=`.spec.amiType`
// +kubebuilder:printcolumn:name="Desired",type=integer,JSONPath=`.spec.scalingConfig.desiredSize`
// +kubebuilder:printcolumn:name="Ready",type=integer,JSONPath=`.status.readyNodes`
// +kubebuilder:printcolumn:name="Phase",type=string,JSONPath=`.status.phase`
type NodeGroup struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	Spec   NodeGroupSpec   `json:"spec,omitempty"`
	Status NodeGroupStatus `json:"status,omitempty"`
}

// NodeGroupList is a list of NodeGroups.
//
// +kubebuilder:object:root=true
type NodeGroupList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []NodeGroup `json:"items"`
}

func init() {
	SchemeBuilder.Register(&NodeGroup{}, &NodeGroupList{})
}
