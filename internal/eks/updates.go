package eks

import "encoding/json"

// Update statuses and types as EKS spells them; the same strings the
// ClusterUpdate resource stores.
const (
	UpdateStatusInProgress = "InProgress"
	UpdateStatusSuccessful = "Successful"
	UpdateStatusFailed     = "Failed"
	UpdateStatusCancelled  = "Cancelled"

	UpdateTypeVersion = "VersionUpdate"
	// UpdateTypeVersionRollback goes back to the minor a cluster ran before
	// its last upgrade (UpdateClusterVersion with rollbackConfig).
	UpdateTypeVersionRollback = "VersionRollback"
	UpdateTypeLogging         = "LoggingUpdate"
	UpdateTypeEndpointAccess  = "EndpointAccessUpdate"
	UpdateTypeConfig          = "ConfigUpdate"
	// UpdateTypeUpgradePolicy changes a cluster's support type.
	UpdateTypeUpgradePolicy = "UpgradePolicyUpdate"
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
	// UpdateParamUpgradePolicy is the new support type.
	UpdateParamUpgradePolicy = "UpgradePolicy"
	// UpdateParamDeletionProtection is "true" or "false".
	UpdateParamDeletionProtection = "DeletionProtection"
)

// UpdateClusterConfigInput is the body of POST /clusters/{name}/update-config.
// Fields EKS defines that cellplane does not implement (zonalShiftConfig,
// ...) are ignored.
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
	// UpgradePolicy changes the support type: an update of its own
	// (UpgradePolicyUpdate).
	UpgradePolicy *UpgradePolicy `json:"upgradePolicy,omitempty"`
}

// UpdateClusterVersionInput is the body of POST /clusters/{name}/updates.
type UpdateClusterVersionInput struct {
	Version            string `json:"version"`
	ClientRequestToken string `json:"clientRequestToken,omitempty"`
	// Force overrides the readiness checks that would refuse the update
	// (upgrade insights in ERROR).
	Force bool `json:"force,omitempty"`
	// RollbackConfig makes the update a rollback (VersionRollback) to the
	// minor the cluster ran before its last upgrade.
	RollbackConfig *RollbackConfig `json:"rollbackConfig,omitempty"`
}

// RollbackConfig is EKS's rollback configuration of UpdateClusterVersion.
type RollbackConfig struct {
	// TimeoutMinutes bounds the rollback: 120 to 10080, default 720.
	TimeoutMinutes *int32 `json:"timeoutMinutes,omitempty"`
}

// RollbackConfig's bounds and default, as EKS documents them.
const (
	MinRollbackTimeoutMinutes     = 120
	MaxRollbackTimeoutMinutes     = 10080
	DefaultRollbackTimeoutMinutes = 720
)

// CancelUpdateInput is the body of POST
// /clusters/{name}/updates/{updateId}/cancel-update.
type CancelUpdateInput struct {
	ClientRequestToken string `json:"clientRequestToken,omitempty"`
}

// Cancellation is the latest cancellation of an Update.
type Cancellation struct {
	Reason string `json:"reason,omitempty"`
	Status string `json:"status,omitempty"`
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
	// Cancellation is present once a CancelUpdate was attempted.
	Cancellation *Cancellation `json:"cancellation,omitempty"`
	// Cellplane is the progress of a version update in the cell, beyond
	// EKS's shape: which member moves, what is done, what went wrong.
	Cellplane *Rollout `json:"cellplane,omitempty"`
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
