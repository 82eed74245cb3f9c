package eks

// EncryptionConfig is EKS's encryptionConfig entry: the resources a KMS key
// encrypts (only "secrets") and the key.
type EncryptionConfig struct {
	Resources []string  `json:"resources,omitempty"`
	Provider  *Provider `json:"provider,omitempty"`
}

// Provider names the KMS key of an EncryptionConfig.
type Provider struct {
	KeyArn string `json:"keyArn,omitempty"`
}

// AssociateEncryptionConfigInput is the body of
// POST /clusters/{name}/encryption-config/associate.
type AssociateEncryptionConfigInput struct {
	EncryptionConfig   []EncryptionConfig `json:"encryptionConfig"`
	ClientRequestToken string             `json:"clientRequestToken,omitempty"`
}

const (
	// UpdateTypeAssociateEncryptionConfig binds a cluster's Secrets to a key.
	UpdateTypeAssociateEncryptionConfig = "AssociateEncryptionConfig"
	// UpdateParamEncryptionConfig is the associated encryptionConfig as JSON.
	UpdateParamEncryptionConfig = "EncryptionConfig"
	// IssueKmsKeyDisabled is the ClusterIssueCode of a cluster whose key is
	// disabled: its Secrets cannot be written, nor read once its API servers
	// restart.
	IssueKmsKeyDisabled = "KmsKeyDisabled"
	// ResourceSecrets is the one resource an encryptionConfig may name.
	ResourceSecrets = "secrets"
)
