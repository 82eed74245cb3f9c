package eks

// Add-on statuses (EKS's AddonStatus).
const (
	AddonStatusCreating     = "CREATING"
	AddonStatusActive       = "ACTIVE"
	AddonStatusCreateFailed = "CREATE_FAILED"
	AddonStatusUpdating     = "UPDATING"
	AddonStatusDeleting     = "DELETING"
	AddonStatusDegraded     = "DEGRADED"
)

// Add-on health issue codes (EKS's AddonIssueCode) cellplane reports.
const (
	AddonIssueInsufficientNumberOfReplicas = "InsufficientNumberOfReplicas"
	AddonIssueConfigurationConflict        = "ConfigurationConflict"
	AddonIssueClusterUnreachable           = "ClusterUnreachable"
	AddonIssueInternalFailure              = "InternalFailure"
	AddonIssueK8sResourceNotFound          = "K8sResourceNotFound"
)

// UpdateTypeAddonUpdate and the parameters of an AddonUpdate.
const (
	UpdateTypeAddonUpdate          = "AddonUpdate"
	UpdateParamAddonVersion        = "AddonVersion"
	UpdateParamResolveConflicts    = "ResolveConflicts"
	UpdateParamConfigurationValues = "ConfigurationValues"
)

// Add-on type, owner and publisher as DescribeAddonVersions reports them.
const (
	AddonTypeNetworking = "networking"
	AddonOwner          = "cellplane"
	AddonPublisher      = "cellplane"
)

// Limits of ListAddons and DescribeAddonVersions, as EKS sets them.
const (
	MinListAddonsResults     = 1
	MaxListAddonsResults     = 100
	DefaultListAddonsResults = 100
)

// CreateAddonInput is the body of POST /clusters/{name}/addons. Pod
// identity associations and service-account roles are not implemented:
// the IAM roles they name do not reach tenant pods here.
type CreateAddonInput struct {
	AddonName             string            `json:"addonName"`
	AddonVersion          string            `json:"addonVersion,omitempty"`
	ServiceAccountRoleArn string            `json:"serviceAccountRoleArn,omitempty"`
	ResolveConflicts      string            `json:"resolveConflicts,omitempty"`
	ConfigurationValues   string            `json:"configurationValues,omitempty"`
	ClientRequestToken    string            `json:"clientRequestToken,omitempty"`
	Tags                  map[string]string `json:"tags,omitempty"`
}

// UpdateAddonInput is the body of POST /clusters/{name}/addons/{addonName}/update.
type UpdateAddonInput struct {
	AddonVersion          string  `json:"addonVersion,omitempty"`
	ServiceAccountRoleArn string  `json:"serviceAccountRoleArn,omitempty"`
	ResolveConflicts      string  `json:"resolveConflicts,omitempty"`
	ConfigurationValues   *string `json:"configurationValues,omitempty"`
	ClientRequestToken    string  `json:"clientRequestToken,omitempty"`
}

// AddonOutput is the body of CreateAddon, DescribeAddon and DeleteAddon.
type AddonOutput struct {
	Addon *Addon `json:"addon"`
}

// Addon is EKS's Addon shape.
type Addon struct {
	AddonName           string            `json:"addonName"`
	ClusterName         string            `json:"clusterName"`
	Status              string            `json:"status"`
	AddonVersion        string            `json:"addonVersion"`
	Health              *AddonHealth      `json:"health"`
	AddonArn            string            `json:"addonArn"`
	CreatedAt           *Timestamp        `json:"createdAt,omitempty"`
	ModifiedAt          *Timestamp        `json:"modifiedAt,omitempty"`
	Tags                map[string]string `json:"tags"`
	Publisher           string            `json:"publisher,omitempty"`
	Owner               string            `json:"owner,omitempty"`
	ConfigurationValues string            `json:"configurationValues,omitempty"`
}

// AddonHealth is an add-on's health.
type AddonHealth struct {
	Issues []AddonIssue `json:"issues"`
}

// AddonIssue is one health issue.
type AddonIssue struct {
	Code        string   `json:"code,omitempty"`
	Message     string   `json:"message,omitempty"`
	ResourceIDs []string `json:"resourceIds,omitempty"`
}

// ListAddonsOutput is the body of GET /clusters/{name}/addons.
type ListAddonsOutput struct {
	Addons    []string `json:"addons"`
	NextToken string   `json:"nextToken,omitempty"`
}

// DescribeAddonVersionsOutput is the body of GET /addons/supported-versions.
type DescribeAddonVersionsOutput struct {
	Addons    []AddonInfo `json:"addons"`
	NextToken string      `json:"nextToken,omitempty"`
}

// AddonInfo is one add-on and its versions.
type AddonInfo struct {
	AddonName     string             `json:"addonName"`
	Type          string             `json:"type"`
	AddonVersions []AddonVersionInfo `json:"addonVersions"`
	Publisher     string             `json:"publisher,omitempty"`
	Owner         string             `json:"owner,omitempty"`
}

// AddonVersionInfo is one version and the cluster versions it fits.
type AddonVersionInfo struct {
	AddonVersion          string          `json:"addonVersion"`
	Architecture          []string        `json:"architecture"`
	ComputeTypes          []string        `json:"computeTypes"`
	Compatibilities       []Compatibility `json:"compatibilities"`
	RequiresConfiguration bool            `json:"requiresConfiguration"`
}

// Compatibility is one cluster version an add-on version fits.
type Compatibility struct {
	ClusterVersion   string   `json:"clusterVersion"`
	PlatformVersions []string `json:"platformVersions"`
	DefaultVersion   bool     `json:"defaultVersion"`
}

// DescribeAddonConfigurationOutput is the body of GET /addons/configuration-schemas.
type DescribeAddonConfigurationOutput struct {
	AddonName           string `json:"addonName"`
	AddonVersion        string `json:"addonVersion"`
	ConfigurationSchema string `json:"configurationSchema"`
}
