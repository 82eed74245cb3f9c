package eks

import "encoding/json"

// CreateClusterInput is the body of POST /clusters. Fields EKS defines that are
// not listed here (kubernetesNetworkConfig's details, ...) are accepted and ignored,
// because JSON decoding skips unknown fields.
type CreateClusterInput struct {
	Name                    string            `json:"name"`
	Version                 string            `json:"version,omitempty"`
	RoleArn                 string            `json:"roleArn,omitempty"`
	ResourcesVpcConfig      json.RawMessage   `json:"resourcesVpcConfig,omitempty"`
	KubernetesNetworkConfig json.RawMessage   `json:"kubernetesNetworkConfig,omitempty"`
	Logging                 json.RawMessage   `json:"logging,omitempty"`
	Tags                    map[string]string `json:"tags,omitempty"`
	ClientRequestToken      string            `json:"clientRequestToken,omitempty"`
	// DeletionProtection, when true, makes DeleteCluster refuse the cluster
	// once it is ACTIVE, until UpdateClusterConfig turns it off.
	DeletionProtection *bool `json:"deletionProtection,omitempty"`
	// UpgradePolicy chooses STANDARD or EXTENDED (the default) support.
	UpgradePolicy *UpgradePolicy `json:"upgradePolicy,omitempty"`
	// BootstrapSelfManagedAddons false creates the cluster without its
	// default add-ons (CoreDNS, kube-proxy); unset or true creates them.
	BootstrapSelfManagedAddons *bool `json:"bootstrapSelfManagedAddons,omitempty"`
	// EncryptionConfig binds the cluster's Secrets to a key of the region's
	// key service.
	EncryptionConfig []EncryptionConfig `json:"encryptionConfig,omitempty"`
	// AccessConfig is how principals sign in; defaults to API_AND_CONFIG_MAP
	// with the creator bootstrapped as cluster admin.
	AccessConfig *AccessConfig `json:"accessConfig,omitempty"`
	// Cellplane holds cellplane's own create options; EKS clients never send it.
	Cellplane *CreateOptions `json:"cellplane,omitempty"`
}

// CreateOptions are cellplane's create options beyond EKS's.
type CreateOptions struct {
	// EtcdQuotaBytes is each etcd member's backend quota; 0 means 2 GiB.
	EtcdQuotaBytes int64 `json:"etcdQuotaBytes,omitempty"`
	// FromBackup restores the new cluster's etcd from another cluster's backups.
	FromBackup *FromBackup `json:"fromBackup,omitempty"`
}

// FromBackup names the backups a new cluster starts from.
type FromBackup struct {
	// Cluster is the source cluster's name, in the same account.
	Cluster string `json:"cluster"`
	// Set is a backup set UID; empty means the newest set with a full backup.
	Set string `json:"set,omitempty"`
	// Revision is the source revision to restore; 0 means the newest covered.
	Revision int64 `json:"revision,omitempty"`
}

// ClusterOutput is the body returned by CreateCluster, DescribeCluster and
// DeleteCluster, which EKS all shape as {"cluster": {...}}.
type ClusterOutput struct {
	Cluster *Cluster `json:"cluster"`
}

// ListClustersOutput is the body of GET /clusters.
type ListClustersOutput struct {
	Clusters  []string `json:"clusters"`
	NextToken string   `json:"nextToken,omitempty"`
}

// KubeconfigOutput is the body of cellplane's GET /cellplane/clusters/{name}/kubeconfig.
type KubeconfigOutput struct {
	Kubeconfig string `json:"kubeconfig"`
}

// Limits of ListClusters, as EKS sets them.
const (
	MinListResults     = 1
	MaxListResults     = 100
	DefaultListResults = 100
)
