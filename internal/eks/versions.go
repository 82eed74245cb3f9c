package eks

// ClusterTypeEKS is the clusterType of every version cellplane offers.
const ClusterTypeEKS = "eks"

// Where a Kubernetes version is in its support (EKS's VersionStatus, the
// versionStatus field).
const (
	VersionStatusStandardSupport = "STANDARD_SUPPORT"
	VersionStatusExtendedSupport = "EXTENDED_SUPPORT"
	VersionStatusUnsupported     = "UNSUPPORTED"
)

// ClusterVersionStatusOf spells a VersionStatus as the deprecated status
// field (ClusterVersionStatus) does: "standard-support".
func ClusterVersionStatusOf(versionStatus string) string {
	switch versionStatus {
	case VersionStatusExtendedSupport:
		return "extended-support"
	case VersionStatusUnsupported:
		return "unsupported"
	}
	return "standard-support"
}

// DescribeClusterVersionsOutput is the body of GET /cluster-versions.
type DescribeClusterVersionsOutput struct {
	ClusterVersions []ClusterVersion `json:"clusterVersions"`
	NextToken       string           `json:"nextToken,omitempty"`
}

// ClusterVersion is EKS's ClusterVersionInformation. Dates count from the
// minor's upstream release.
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
