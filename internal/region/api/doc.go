// Package api serves the region's tenant-facing HTTP API, shaped as the EKS REST
// protocol (restJson1): the cluster operations (Create, Describe, List, Delete),
// tagging, DescribeClusterVersions and cluster updates (UpdateClusterConfig,
// UpdateClusterVersion, DescribeUpdate, ListUpdates) over the Cluster and
// ClusterUpdate objects of the region store, plus cellplane's kubeconfig
// extension; the identity provider and access-entry operations are packages
// identityproviders' and accessentries', served here over this package's
// clusters. It never talks to cells: it writes the desired state, and the
// cell agents report progress into the same objects.
//
// Every internal error becomes an EKS wire error through the one table in
// errors.go; only messages written for the caller reach the caller.
package api
