package eks

// ClusterTypeEKS is the clusterType of every version cellplane offers.
const ClusterTypeEKS = "eks"

// VersionStatusStandardSupport is the status of a Kubernetes version in standard
// support, in both the deprecated status field (ClusterVersionStatus) and
// versionStatus (VersionStatus), which spell it the same.
const VersionStatusStandardSupport = "STANDARD_SUPPORT"

// DescribeClusterVersionsOutput is the body of GET /cluster-versions.
type DescribeClusterVersionsOutput struct {
	ClusterVersions []ClusterVersion `json:"clusterVersions"`
	NextToken       string           `json:"nextToken,omitempty"`
}

// ClusterVersion is EKS's ClusterVersionInformation. Dates cellplane does not
// know are omitted rather than invented.
type ClusterVersion struct {
	ClusterVersion           string     `json:"clusterVersion,omitempty"`
	ClusterType              string     `json:"clusterType,omitempty"`
	DefaultPlatformVersion   string     `json:"defaultPlatformVersion,omitempty"`
	DefaultVersion           bool       `json:"defaultVersion"`
	ReleaseDate              *Timestamp `json:"releaseDate,omitempty"`
	EndOfStandardSupportDate *Timestamp `json:"endOfStandardSupportDate,omitempty"`
	EndOfExtendedSupportDate *Timestamp `json:"endOfExtendedSupportDate,omitempty"`
	Status                   string     `json:"status,omitempty"`
	VersionStatus            string     `json:"versionStatus,omitempty"`
	KubernetesPatchVersion   string     `json:"kubernetesPatchVersion,omitempty"`
}

// Limits of DescribeClusterVersions. The model leaves maxResults unbounded in
// the SDK; EKS documents 1-100.
const (
	MinVersionResults     = 1
	MaxVersionResults     = 100
	DefaultVersionResults = 100
)
