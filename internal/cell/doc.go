// Package cell runs one cell of the embedded default as its own process: its
// store, its load balancer, the controllers that run its clusters and the
// agent that syncs it with the region. It only composes; each concern of the
// cell lives in a package of its own:
//
//	lifecycle  a cluster's plan, PKI, processes, endpoint, health, kubeconfig, teardown
//	members    replacing etcd members that lost their data
//	restore    restores from backup, into a new cluster and in place
//	care       etcd care: measure, compact, defragment, NOSPACE, leader placement
//	backups    continuous full and incremental backups
//	zones      zone shifts, impaired zones, evacuation, zone network and faults
//	agent      the region-to-cell agent and the heartbeat
//
// beside the vocabulary they share (tenant), the crash-safe records of etcd's
// orchestration (etcdstate), the one etcd connection per cluster (etcdconn)
// and the endpoint writer (endpoint).
package cell
