package accesspolicy

import "strings"

// ARNPrefix starts every access policy's ARN, as at AWS.
const ARNPrefix = "arn:aws:eks::aws:cluster-access-policy/"

// Policy is one access policy of the catalogue.
type Policy struct {
	// Name is the policy's name, the last part of its ARN.
	Name string
	// ClusterRole is the Kubernetes default ClusterRole whose rules the
	// policy grants, in the scope it is associated with.
	ClusterRole string
}

// ARN is the policy's ARN.
func (p Policy) ARN() string { return ARNPrefix + p.Name }

// Catalogue is every access policy cellplane serves, in the order
// ListAccessPolicies returns them.
var Catalogue = []Policy{
	{Name: "AmazonEKSAdminPolicy", ClusterRole: "admin"},
	{Name: "AmazonEKSClusterAdminPolicy", ClusterRole: "cluster-admin"},
	{Name: "AmazonEKSEditPolicy", ClusterRole: "edit"},
	{Name: "AmazonEKSViewPolicy", ClusterRole: "view"},
}

// Lookup returns the policy an ARN names.
func Lookup(arn string) (Policy, bool) {
	name, ok := strings.CutPrefix(arn, ARNPrefix)
	if !ok {
		return Policy{}, false
	}
	for _, p := range Catalogue {
		if p.Name == name {
			return p, true
		}
	}
	return Policy{}, false
}
