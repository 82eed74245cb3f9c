// Package accessentries serves the regional API's EKS access-entry
// operations: Create, Describe, Update, Delete and ListAccessEntries,
// Associate, Disassociate and ListAssociatedAccessPolicies, and
// ListAccessPolicies, the catalogue. An entry is an AccessEntry object of the
// region store, labelled with its cluster and cell and owned by the cluster's
// UID; the cell mirrors it and its sign-in service reads it. The package also
// gives a new cluster's creator its cluster-admin entry. It fetches clusters
// only through the Clusters the regional API hands it, asks Principals
// whether an IAM user or role exists, and its errors go through the API's
// one wire-error table.
package accessentries
