package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// DefaultCellCapacity is how many clusters a cell takes unless told otherwise;
// EKS puts about a thousand clusters in a cell.
const DefaultCellCapacity = 1000

// CellSpec is what the operator decides about a cell.
type CellSpec struct {
	// Capacity is the most clusters the region places in the cell. Lowering it
	// below the clusters already there stops new placements; it moves nothing.
	// +kubebuilder:validation:Minimum=0
	Capacity int32 `json:"capacity"`

	// Draining stops new placements in the cell. Its clusters stay and keep
	// being served and healed.
	// +optional
	Draining bool `json:"draining,omitempty"`

	// ZoneShifts lists the zones an operator shifted out of the cell, like a
	// zonal shift: the cell drains their API servers, stops their controllers
	// and moves etcd leadership elsewhere, in every cluster. At most one.
	// +optional
	// +kubebuilder:validation:MaxItems=1
	ZoneShifts []string `json:"zoneShifts,omitempty"`

	// ZoneFaults are faults injected into zones' networks for a game day or
	// a test. Only a cell whose zones live in their own network namespaces
	// (cellplane up --zone-namespaces) applies them. At most one per zone.
	// +optional
	// +kubebuilder:validation:MaxItems=3
	ZoneFaults []ZoneFault `json:"zoneFaults,omitempty"`
}

// Kinds of ZoneFault.
const (
	ZoneFaultCut       = "cut"
	ZoneFaultBlackhole = "blackhole"
	ZoneFaultDegrade   = "degrade"
)

// ZoneFault is a fault injected into one zone's network.
type ZoneFault struct {
	// Zone is a, b or c.
	Zone string `json:"zone"`
	// Kind is cut (the zone's link goes down), blackhole (everything the zone
	// sends vanishes, without FIN or RST) or degrade (latency and loss added
	// to everything the zone sends).
	// +kubebuilder:validation:Enum=cut;blackhole;degrade
	Kind string `json:"kind"`
	// LatencyMilliseconds is added to every packet the zone sends (degrade).
	// +optional
	// +kubebuilder:validation:Minimum=0
	// +kubebuilder:validation:Maximum=5000
	LatencyMilliseconds int32 `json:"latencyMilliseconds,omitempty"`
	// LossPercent of the packets the zone sends are dropped (degrade).
	// +optional
	// +kubebuilder:validation:Minimum=0
	// +kubebuilder:validation:Maximum=100
	LossPercent int32 `json:"lossPercent,omitempty"`
	// AppliedAt is when the cell applied the fault (status only).
	// +optional
	AppliedAt *metav1.Time `json:"appliedAt,omitempty"`
}

// CellStatus is what the cell reports about itself. The region judges the
// cell's reachability by how old the heartbeat is, never by asking the cell.
type CellStatus struct {
	// HeartbeatTime is when the cell's controllers last reported.
	// +optional
	HeartbeatTime *metav1.Time `json:"heartbeatTime,omitempty"`

	// Clusters is how many clusters the cell's own store holds.
	// +optional
	Clusters int32 `json:"clusters"`

	// Store is the cell store's API address.
	// +optional
	Store string `json:"store,omitempty"`

	// LoadBalancer is the cell load balancer's status address.
	// +optional
	LoadBalancer string `json:"loadBalancer,omitempty"`

	// PID is the cell controllers' process.
	// +optional
	PID int `json:"pid,omitempty"`

	// ZoneNamespaces is true when the cell's zones live in their own network
	// namespaces, so that faults can be injected into them.
	// +optional
	ZoneNamespaces bool `json:"zoneNamespaces,omitempty"`

	// Zones is what the cell's zone health probes last found, by zone.
	// +optional
	Zones []ZoneHealth `json:"zones,omitempty"`

	// Faults are the zone faults the cell has applied.
	// +optional
	Faults []ZoneFault `json:"faults,omitempty"`

	// APIHealth is what the cell's API probes measured of each of its
	// clusters since the cell's controllers started: the signal platform
	// rollouts judge a wave by.
	// +optional
	APIHealth []ClusterAPIHealth `json:"apiHealth,omitempty"`
}

// ClusterAPIHealth is the cell's running count of probes of one cluster's
// API through its endpoint. The counters only grow while the cell's
// controllers run; they start again from zero when they restart.
type ClusterAPIHealth struct {
	// Cluster is the cluster's object, namespace/name.
	Cluster string `json:"cluster"`
	// Requests counts the probes sent, Errors those that failed (no answer,
	// an error status or a timeout).
	Requests int64 `json:"requests"`
	Errors   int64 `json:"errors"`
	// LatencyMillisecondsSum adds up the latency of the probes that
	// succeeded.
	LatencyMillisecondsSum int64 `json:"latencyMillisecondsSum"`
}

// ZoneHealth is one zone's health as the cell's probes see it.
type ZoneHealth struct {
	Zone string `json:"zone"`
	// Impaired zones are evacuated like a zone shift until they heal.
	Impaired bool `json:"impaired"`
	// Since is when the zone last changed between healthy and impaired.
	// +optional
	Since *metav1.Time `json:"since,omitempty"`
	// Reason says what the probes saw.
	// +optional
	Reason string `json:"reason,omitempty"`
	// LatencyMilliseconds is the median probe latency of the last round.
	// +optional
	LatencyMilliseconds int64 `json:"latencyMilliseconds,omitempty"`
}

// Cell is a failure-isolated unit of the region: a store, controllers and a load
// balancer serving up to Capacity clusters.
//
// +kubebuilder:object:root=true
// +kubebuilder:resource:scope=Cluster
// +kubebuilder:subresource:status
// +kubebuilder:printcolumn:name="Capacity",type=integer,JSONPath=`.spec.capacity`
// +kubebuilder:printcolumn:name="Draining",type=boolean,JSONPath=`.spec.draining`
// +kubebuilder:printcolumn:name="Clusters",type=integer,JSONPath=`.status.clusters`
// +kubebuilder:printcolumn:name="Heartbeat",type=date,JSONPath=`.status.heartbeatTime`
type Cell struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	Spec   CellSpec   `json:"spec,omitempty"`
	Status CellStatus `json:"status,omitempty"`
}

// CellList is a list of Cells.
//
// +kubebuilder:object:root=true
type CellList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []Cell `json:"items"`
}

func init() {
	SchemeBuilder.Register(&Cell{}, &CellList{})
}
