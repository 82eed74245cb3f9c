package eks

// Access entry operations' wire shapes, as the EKS model names their members.

// AccessConfig is the accessConfig of CreateCluster, UpdateClusterConfig and a
// described Cluster. On create both fields are optional; on update only the
// mode counts.
type AccessConfig struct {
	AuthenticationMode                      string `json:"authenticationMode,omitempty"`
	BootstrapClusterCreatorAdminPermissions *bool  `json:"bootstrapClusterCreatorAdminPermissions,omitempty"`
}

// UpdateTypeAccessConfig is the update UpdateClusterConfig records for an
// accessConfig change, and UpdateParamAuthenticationMode its one parameter.
const (
	UpdateTypeAccessConfig        = "AccessConfigUpdate"
	UpdateParamAuthenticationMode = "AuthenticationMode"
)

// AccessEntry is EKS's AccessEntry.
type AccessEntry struct {
	ClusterName      string            `json:"clusterName"`
	PrincipalArn     string            `json:"principalArn"`
	KubernetesGroups []string          `json:"kubernetesGroups"`
	AccessEntryArn   string            `json:"accessEntryArn"`
	CreatedAt        *Timestamp        `json:"createdAt,omitempty"`
	ModifiedAt       *Timestamp        `json:"modifiedAt,omitempty"`
	Tags             map[string]string `json:"tags"`
	Username         string            `json:"username"`
	Type             string            `json:"type"`
}

// CreateAccessEntryInput is the body of POST /clusters/{name}/access-entries.
type CreateAccessEntryInput struct {
	PrincipalArn       string            `json:"principalArn"`
	KubernetesGroups   []string          `json:"kubernetesGroups,omitempty"`
	Tags               map[string]string `json:"tags,omitempty"`
	ClientRequestToken string            `json:"clientRequestToken,omitempty"`
	Username           string            `json:"username,omitempty"`
	Type               string            `json:"type,omitempty"`
}

// UpdateAccessEntryInput is the body of POST
// /clusters/{name}/access-entries/{principalArn}. A field left out keeps its
// value; kubernetesGroups sent empty clears the groups.
type UpdateAccessEntryInput struct {
	KubernetesGroups   *[]string `json:"kubernetesGroups,omitempty"`
	ClientRequestToken string    `json:"clientRequestToken,omitempty"`
	Username           *string   `json:"username,omitempty"`
}

// AccessEntryOutput is the body of CreateAccessEntry, DescribeAccessEntry
// and UpdateAccessEntry.
type AccessEntryOutput struct {
	AccessEntry *AccessEntry `json:"accessEntry"`
}

// ListAccessEntriesOutput is the body of GET /clusters/{name}/access-entries:
// the entries' principal ARNs.
type ListAccessEntriesOutput struct {
	AccessEntries []string `json:"accessEntries"`
	NextToken     string   `json:"nextToken,omitempty"`
}

// AccessScope is where an associated access policy applies.
type AccessScope struct {
	Type       string   `json:"type,omitempty"`
	Namespaces []string `json:"namespaces,omitempty"`
}

// AssociatedAccessPolicy is one access policy associated with an entry.
type AssociatedAccessPolicy struct {
	PolicyArn    string      `json:"policyArn"`
	AccessScope  AccessScope `json:"accessScope"`
	AssociatedAt *Timestamp  `json:"associatedAt,omitempty"`
	ModifiedAt   *Timestamp  `json:"modifiedAt,omitempty"`
}

// AssociateAccessPolicyInput is the body of POST
// /clusters/{name}/access-entries/{principalArn}/access-policies.
type AssociateAccessPolicyInput struct {
	PolicyArn   string       `json:"policyArn"`
	AccessScope *AccessScope `json:"accessScope"`
}

// AssociateAccessPolicyOutput is AssociateAccessPolicy's answer.
type AssociateAccessPolicyOutput struct {
	ClusterName            string                  `json:"clusterName"`
	PrincipalArn           string                  `json:"principalArn"`
	AssociatedAccessPolicy *AssociatedAccessPolicy `json:"associatedAccessPolicy"`
}

// ListAssociatedAccessPoliciesOutput is the body of GET
// /clusters/{name}/access-entries/{principalArn}/access-policies.
type ListAssociatedAccessPoliciesOutput struct {
	ClusterName              string                   `json:"clusterName"`
	PrincipalArn             string                   `json:"principalArn"`
	AssociatedAccessPolicies []AssociatedAccessPolicy `json:"associatedAccessPolicies"`
	NextToken                string                   `json:"nextToken,omitempty"`
}

// AccessPolicy is one policy of ListAccessPolicies.
type AccessPolicy struct {
	Name string `json:"name"`
	Arn  string `json:"arn"`
}

// ListAccessPoliciesOutput is the body of GET /access-policies.
type ListAccessPoliciesOutput struct {
	AccessPolicies []AccessPolicy `json:"accessPolicies"`
	NextToken      string         `json:"nextToken,omitempty"`
}

// Limits of the access-entry list operations, as EKS sets them.
const (
	MinListAccessResults     = 1
	MaxListAccessResults     = 100
	DefaultListAccessResults = 100
)
