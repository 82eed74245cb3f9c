// Package clusternames keeps every account's cluster names, sorted and
// current from the region cache's events: the regional API pages ListClusters
// from it, waits in CreateCluster until it shows the new cluster, and counts
// an account's clusters for its quota from it, none of which then costs a
// store read.
package clusternames
