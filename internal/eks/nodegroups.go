package eks

// Node group statuses, as EKS's NodegroupStatus spells them.
const (
	NodegroupStatusCreating     = "CREATING"
	NodegroupStatusActive       = "ACTIVE"
	NodegroupStatusUpdating     = "UPDATING"
	NodegroupStatusDeleting     = "DELETING"
	NodegroupStatusCreateFailed = "CREATE_FAILED"
	NodegroupStatusDegraded     = "DEGRADED"
)

// Node group update parameter types (EKS's UpdateParamType).
const (
	UpdateParamDesiredSize    = "DesiredSize"
	UpdateParamMinSize        = "MinSize"
	UpdateParamMaxSize        = "MaxSize"
	UpdateParamLabelsToAdd    = "LabelsToAdd"
	UpdateParamLabelsToRemove = "LabelsToRemove"
	UpdateParamTaintsToAdd    = "TaintsToAdd"
	UpdateParamTaintsToRemove = "TaintsToRemove"
	UpdateParamMaxUnavailable = "MaxUnavailable"
	UpdateParamReleaseVersion = "ReleaseVersion"
)

// Limits of ListNodegroups, as EKS sets them.
const (
	MinListNodegroupsResults     = 1
	MaxListNodegroupsResults     = 100
	DefaultListNodegroupsResults = 100
)

// NodegroupScalingConfig is a node group's size. Pointers tell a field left
// out from a zero.
type NodegroupScalingConfig struct {
	MinSize     *int32 `json:"minSize,omitempty"`
	MaxSize     *int32 `json:"maxSize,omitempty"`
	DesiredSize *int32 `json:"desiredSize,omitempty"`
}

// Taint is one node taint.
type Taint struct {
	Key    string `json:"key,omitempty"`
	Value  string `json:"value,omitempty"`
	Effect string `json:"effect,omitempty"`
}

// NodegroupUpdateConfig is how many nodes a rolling change takes down at once.
type NodegroupUpdateConfig struct {
	MaxUnavailable           *int32 `json:"maxUnavailable,omitempty"`
	MaxUnavailablePercentage *int32 `json:"maxUnavailablePercentage,omitempty"`
	UpdateStrategy           string `json:"updateStrategy,omitempty"`
}

// CreateNodegroupInput is the body of POST /clusters/{name}/node-groups.
// Fields EKS defines that cellplane has no use for (launchTemplate,
// remoteAccess, ...) are ignored.
type CreateNodegroupInput struct {
	NodegroupName      string                  `json:"nodegroupName"`
	ScalingConfig      *NodegroupScalingConfig `json:"scalingConfig,omitempty"`
	DiskSize           *int32                  `json:"diskSize,omitempty"`
	Subnets            []string                `json:"subnets"`
	InstanceTypes      []string                `json:"instanceTypes,omitempty"`
	AmiType            string                  `json:"amiType,omitempty"`
	NodeRole           string                  `json:"nodeRole"`
	Labels             map[string]string       `json:"labels,omitempty"`
	Taints             []Taint                 `json:"taints,omitempty"`
	Tags               map[string]string       `json:"tags,omitempty"`
	ClientRequestToken string                  `json:"clientRequestToken,omitempty"`
	UpdateConfig       *NodegroupUpdateConfig  `json:"updateConfig,omitempty"`
	CapacityType       string                  `json:"capacityType,omitempty"`
	Version            string                  `json:"version,omitempty"`
	ReleaseVersion     string                  `json:"releaseVersion,omitempty"`
}

// UpdateLabelsPayload is the labels object of UpdateNodegroupConfig.
type UpdateLabelsPayload struct {
	AddOrUpdateLabels map[string]string `json:"addOrUpdateLabels,omitempty"`
	RemoveLabels      []string          `json:"removeLabels,omitempty"`
}

// UpdateTaintsPayload is the taints object of UpdateNodegroupConfig.
type UpdateTaintsPayload struct {
	AddOrUpdateTaints []Taint `json:"addOrUpdateTaints,omitempty"`
	RemoveTaints      []Taint `json:"removeTaints,omitempty"`
}

// UpdateNodegroupConfigInput is the body of
// POST /clusters/{name}/node-groups/{nodegroupName}/update-config.
type UpdateNodegroupConfigInput struct {
	Labels             *UpdateLabelsPayload    `json:"labels,omitempty"`
	Taints             *UpdateTaintsPayload    `json:"taints,omitempty"`
	ScalingConfig      *NodegroupScalingConfig `json:"scalingConfig,omitempty"`
	UpdateConfig       *NodegroupUpdateConfig  `json:"updateConfig,omitempty"`
	ClientRequestToken string                  `json:"clientRequestToken,omitempty"`
}

// UpdateNodegroupVersionInput is the body of
// POST /clusters/{name}/node-groups/{nodegroupName}/update-version.
type UpdateNodegroupVersionInput struct {
	Version            string `json:"version,omitempty"`
	ReleaseVersion     string `json:"releaseVersion,omitempty"`
	Force              bool   `json:"force,omitempty"`
	ClientRequestToken string `json:"clientRequestToken,omitempty"`
}

// Issue is one node group health issue.
type Issue struct {
	Code        string   `json:"code,omitempty"`
	Message     string   `json:"message,omitempty"`
	ResourceIDs []string `json:"resourceIds,omitempty"`
}

// NodegroupHealth lists a node group's issues.
type NodegroupHealth struct {
	Issues []Issue `json:"issues"`
}

// AutoScalingGroup names one group of instances.
type AutoScalingGroup struct {
	Name string `json:"name,omitempty"`
}

// NodegroupResources are what a node group runs on.
type NodegroupResources struct {
	AutoScalingGroups []AutoScalingGroup `json:"autoScalingGroups"`
}

// Nodegroup is EKS's Nodegroup.
type Nodegroup struct {
	NodegroupName  string                  `json:"nodegroupName"`
	NodegroupArn   string                  `json:"nodegroupArn"`
	ClusterName    string                  `json:"clusterName"`
	Version        string                  `json:"version"`
	ReleaseVersion string                  `json:"releaseVersion"`
	CreatedAt      *Timestamp              `json:"createdAt"`
	ModifiedAt     *Timestamp              `json:"modifiedAt"`
	Status         string                  `json:"status"`
	CapacityType   string                  `json:"capacityType"`
	ScalingConfig  *NodegroupScalingConfig `json:"scalingConfig"`
	InstanceTypes  []string                `json:"instanceTypes"`
	Subnets        []string                `json:"subnets"`
	AmiType        string                  `json:"amiType"`
	NodeRole       string                  `json:"nodeRole"`
	Labels         map[string]string       `json:"labels"`
	Taints         []Taint                 `json:"taints"`
	Resources      *NodegroupResources     `json:"resources"`
	DiskSize       *int32                  `json:"diskSize,omitempty"`
	Health         *NodegroupHealth        `json:"health"`
	UpdateConfig   *NodegroupUpdateConfig  `json:"updateConfig"`
	Tags           map[string]string       `json:"tags"`
}

// NodegroupOutput is the body of CreateNodegroup, DescribeNodegroup and
// DeleteNodegroup.
type NodegroupOutput struct {
	Nodegroup *Nodegroup `json:"nodegroup"`
}

// ListNodegroupsOutput is the body of GET /clusters/{name}/node-groups.
type ListNodegroupsOutput struct {
	Nodegroups []string `json:"nodegroups"`
	NextToken  string   `json:"nextToken,omitempty"`
}
