// Package accesspolicy owns the catalogue of EKS access policies a cluster's
// access entries may be associated with (cluster admin, admin, edit, view),
// their ARNs, and the Kubernetes ClusterRole whose rules each one grants. The
// regional API validates and lists policies from it; the cell's authorizer
// decides requests with it.
package accesspolicy
