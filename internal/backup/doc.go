// Package backup owns a cluster's backup set: the catalog of encrypted full
// snapshots and incremental batches that one cluster's etcd is backed up to, kept
// in an objstore.Store under the cluster's own prefix and sealed with the
// cluster's data key (wrapped by a KMS). It writes, verifies, lists, plans restores
// from and garbage-collects those objects; it knows nothing of etcd itself.
//
// Every object is bound to its cluster, set and position, and the set's newest
// object is recorded in a signed head (binding.go, head.go), so objects
// renamed, swapped, copied from another set or dropped from the end are
// refused at restore rather than restored wrongly.
package backup
