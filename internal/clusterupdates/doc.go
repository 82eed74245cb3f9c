// Package clusterupdates keeps a cluster's update records (ClusterUpdate
// objects) in the region store: stored under a fresh EKS-style ID, owned by
// their cluster, listed in a stable order, and bounded per cluster by pruning
// the oldest finished ones. The regional API decides what an update is; this
// package only stores and finds the records.
package clusterupdates
