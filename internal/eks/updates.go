package eks

import "encoding/json"

// Update statuses and types as EKS spells them; the same strings the
// ClusterUpdate resource stores. Failed and Cancelled are valid on the wire (the
// resource's enum allows them) but nothing produces them yet.
const (
	UpdateStatusInProgress = "InProgress"
	UpdateStatusSuccessful = "Successful"

	UpdateTypeVersion        = "VersionUpdate"
	UpdateTypeLogging        = "LoggingUpdate"
	UpdateTypeEndpointAccess = "EndpointAccessUpdate"
	UpdateTypeConfig         = "ConfigUpdate"
	// UpdateTypeDeletionProtection turns deletion protection on or off.
	UpdateTypeDeletionProtection = "DeletionProtectionUpdate"
)

// Update parameter types cellplane records (EKS's UpdateParamType).
const (
	UpdateParamVersion           = "Version"
	UpdateParamPlatformVersion   = "PlatformVersion"
	UpdateParamClusterLogging    = "ClusterLogging"
	UpdateParamEndpointPublic    = "EndpointPublicAccess"
	UpdateParamEndpointPrivate   = "EndpointPrivateAccess"
	UpdateParamPublicAccessCidrs = "PublicAccessCidrs"
	UpdateParamSubnets           = "Subnets"
	UpdateParamSecurityGroups    = "SecurityGroups"
	// UpdateParamDeletionProtection is "true" or "false".
	UpdateParamDeletionProtection = "DeletionProtection"
)

// UpdateClusterConfigInput is the body of POST /clusters/{name}/update-config.
// Fields EKS defines that cellplane does not implement (upgradePolicy, ...)
// are ignored.
type UpdateClusterConfigInput struct {
	ResourcesVpcConfig json.RawMessage `json:"resourcesVpcConfig,omitempty"`
	Logging            json.RawMessage `json:"logging,omitempty"`
	// DeletionProtection turns deletion protection on or off: an update of
	// its own (DeletionProtectionUpdate), not combined with the others.
	DeletionProtection *bool `json:"deletionProtection,omitempty"`
	// AccessConfig moves the authentication mode towards API: an update of
	// its own (AccessConfigUpdate), as deletionProtection is.
	AccessConfig       *AccessConfig `json:"accessConfig,omitempty"`
	ClientRequestToken string        `json:"clientRequestToken,omitempty"`
}

// UpdateClusterVersionInput is the body of POST /clusters/{name}/updates.
type UpdateClusterVersionInput struct {
	Version            string `json:"version"`
	ClientRequestToken string `json:"clientRequestToken,omitempty"`
	Force              bool   `json:"force,omitempty"`
}

// UpdateOutput is the body of UpdateClusterConfig, UpdateClusterVersion and
// DescribeUpdate, which EKS all shape as {"update": {...}}.
type UpdateOutput struct {
	Update *Update `json:"update"`
}

// Update is EKS's Update shape.
type Update struct {
	ID        string        `json:"id,omitempty"`
	Status    string        `json:"status,omitempty"`
	Type      string        `json:"type,omitempty"`
	Params    []UpdateParam `json:"params"`
	CreatedAt *Timestamp    `json:"createdAt,omitempty"`
	Errors    []ErrorDetail `json:"errors"`
}

// UpdateParam is one parameter of an Update.
type UpdateParam struct {
	Type  string `json:"type,omitempty"`
	Value string `json:"value,omitempty"`
}

// ErrorDetail is one error of an Update.
type ErrorDetail struct {
	ErrorCode    string   `json:"errorCode,omitempty"`
	ErrorMessage string   `json:"errorMessage,omitempty"`
	ResourceIDs  []string `json:"resourceIds,omitempty"`
}

// ListUpdatesOutput is the body of GET /clusters/{name}/updates.
type ListUpdatesOutput struct {
	UpdateIDs []string `json:"updateIds"`
	NextToken string   `json:"nextToken,omitempty"`
}

// Limits of ListUpdates, as EKS sets them.
const (
	MinListUpdatesResults     = 1
	MaxListUpdatesResults     = 100
	DefaultListUpdatesResults = 100
)
