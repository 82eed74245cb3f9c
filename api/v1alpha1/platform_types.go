package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// PlatformVersionSpec is what a platform version sets around the upstream
// binaries of the minors it applies to. The built-in versions live in code
// (package platform); operators register others as PlatformVersion objects.
type PlatformVersionSpec struct {
	// Minors are the Kubernetes minors ("1.37") the version applies to.
	// +kubebuilder:validation:MinItems=1
	Minors []string `json:"minors"`

	// Description says what the version changes, for operators.
	// +optional
	Description string `json:"description,omitempty"`

	// Args set flags of cellplane's components: each --name=value replaces
	// the flag of that name cellplane passes, or is added.
	// +optional
	Args []ComponentArgs `json:"args,omitempty"`

	// AuditPolicy replaces the API servers' audit policy (YAML).
	// +optional
	AuditPolicy string `json:"auditPolicy,omitempty"`
}

// ComponentArgs are flags for one component kind.
type ComponentArgs struct {
	// +kubebuilder:validation:Enum=kube-apiserver;kube-controller-manager;kube-scheduler
	Component string `json:"component"`
	// +kubebuilder:validation:MinItems=1
	Args []string `json:"args"`
}

// PlatformVersion is a platform version an operator registered, named
// cellplane.N. Agents copy the ones their cells' clusters use into the cell
// store.
//
// +kubebuilder:object:root=true
// +kubebuilder:resource:scope=Cluster
// +kubebuilder:printcolumn:name="Minors",type=string,JSONPath=`.spec.minors`
// +kubebuilder:printcolumn:name="Description",type=string,JSONPath=`.spec.description`
type PlatformVersion struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	Spec PlatformVersionSpec `json:"spec,omitempty"`
}

// PlatformVersionList is a list of PlatformVersions.
//
// +kubebuilder:object:root=true
type PlatformVersionList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []PlatformVersion `json:"items"`
}

// States of a PlatformRollout.
const (
	RolloutRunning     = "Running"
	RolloutPaused      = "Paused"
	RolloutRollingBack = "RollingBack"
	RolloutHalted      = "Halted" // rolled back after an alarm
	RolloutCompleted   = "Completed"
	RolloutAborted     = "Aborted"
)

// Phases of a RolloutWave.
const (
	WavePending    = "Pending"
	WaveApplying   = "Applying"
	WaveBaking     = "Baking"
	WaveDone       = "Done"
	WaveRolledBack = "RolledBack"
)

// PlatformRolloutSpec is what an operator asked to roll out and how.
type PlatformRolloutSpec struct {
	// Minor is the Kubernetes minor whose clusters move.
	Minor string `json:"minor"`
	// PlatformVersion is the version the clusters move to.
	PlatformVersion string `json:"platformVersion"`
	// Cells are the cells in the order the rollout visits them; all cells
	// by name when empty. The canary is a cluster of the first.
	// +optional
	Cells []string `json:"cells,omitempty"`
	// WavePercents are the growing shares of each cell's clusters its
	// waves reach, ending at 100.
	// +optional
	WavePercents []int32 `json:"wavePercents,omitempty"`
	// BakeSeconds is how long each wave is watched once its clusters run
	// the version healthy.
	// +optional
	// +kubebuilder:validation:Minimum=0
	BakeSeconds int32 `json:"bakeSeconds,omitempty"`
	// ApplySeconds is how long a wave's clusters may take to run the
	// version healthy before the wave counts as failed.
	// +optional
	// +kubebuilder:validation:Minimum=0
	ApplySeconds int32 `json:"applySeconds,omitempty"`
	// MaxErrorPercent is how many percentage points a wave cluster's API
	// error rate may rise over its baseline while baking.
	// +optional
	// +kubebuilder:validation:Minimum=0
	// +kubebuilder:validation:Maximum=100
	MaxErrorPercent int32 `json:"maxErrorPercent,omitempty"`
	// MaxLatencyFactor is how many times its baseline a wave cluster's mean
	// API latency may reach while baking (above a floor of 100 ms).
	// +optional
	// +kubebuilder:validation:Minimum=0
	MaxLatencyFactor int32 `json:"maxLatencyFactor,omitempty"`
	// Paused holds the rollout where it is; clearing it resumes.
	// +optional
	Paused bool `json:"paused,omitempty"`
	// Abort stops the rollout for good; clusters keep what they run.
	// +optional
	Abort bool `json:"abort,omitempty"`
}

// RolloutTarget is one cluster a wave moves, with what it ran before.
type RolloutTarget struct {
	Namespace string `json:"namespace"`
	Name      string `json:"name"`
	// ClusterName is the tenant's name of the cluster.
	ClusterName string `json:"clusterName"`
	// Previous is the spec.platformVersion the rollout found (empty: the
	// minor's default); a rollback restores it.
	Previous string `json:"previous"`
	// Baseline is the cell's measurement of the cluster when the wave
	// started; BakeStart the same when its bake started.
	// +optional
	Baseline *ClusterAPIHealth `json:"baseline,omitempty"`
	// +optional
	BakeStart *ClusterAPIHealth `json:"bakeStart,omitempty"`
}

// RolloutWave is one step of a rollout.
type RolloutWave struct {
	// Name is "canary" or "<cell> <percent>%".
	Name    string          `json:"name"`
	Cell    string          `json:"cell"`
	Percent int32           `json:"percent"`
	Targets []RolloutTarget `json:"targets,omitempty"`
	Phase   string          `json:"phase"`
	// +optional
	StartTime *metav1.Time `json:"startTime,omitempty"`
	// +optional
	BakeStartTime *metav1.Time `json:"bakeStartTime,omitempty"`
	// +optional
	DoneTime *metav1.Time `json:"doneTime,omitempty"`
}

// RolloutAlarm is why a rollout halted.
type RolloutAlarm struct {
	// Kind is NotHealthy, ErrorRate or Latency.
	Kind    string      `json:"kind"`
	Cluster string      `json:"cluster"`
	Message string      `json:"message"`
	Time    metav1.Time `json:"time"`
}

// PlatformRolloutStatus is the rollout's progress.
type PlatformRolloutStatus struct {
	// +optional
	State string `json:"state,omitempty"`
	// +optional
	Message string `json:"message,omitempty"`
	// Waves are planned when the rollout starts.
	// +optional
	Waves []RolloutWave `json:"waves,omitempty"`
	// CurrentWave indexes Waves.
	// +optional
	CurrentWave int32 `json:"currentWave"`
	// +optional
	Alarm *RolloutAlarm `json:"alarm,omitempty"`
	// +optional
	StartTime *metav1.Time `json:"startTime,omitempty"`
	// +optional
	CompletionTime *metav1.Time `json:"completionTime,omitempty"`
}

// PlatformRollout moves the clusters of one minor to a platform version
// across cells, wave by wave.
//
// +kubebuilder:object:root=true
// +kubebuilder:resource:scope=Cluster
// +kubebuilder:subresource:status
// +kubebuilder:printcolumn:name="Minor",type=string,JSONPath=`.spec.minor`
// +kubebuilder:printcolumn:name="Version",type=string,JSONPath=`.spec.platformVersion`
// +kubebuilder:printcolumn:name="State",type=string,JSONPath=`.status.state`
type PlatformRollout struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	Spec   PlatformRolloutSpec   `json:"spec,omitempty"`
	Status PlatformRolloutStatus `json:"status,omitempty"`
}

// PlatformRolloutList is a list of PlatformRollouts.
//
// +kubebuilder:object:root=true
type PlatformRolloutList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []PlatformRollout `json:"items"`
}

func init() {
	SchemeBuilder.Register(&PlatformVersion{}, &PlatformVersionList{}, &PlatformRollout{}, &PlatformRolloutList{})
}
