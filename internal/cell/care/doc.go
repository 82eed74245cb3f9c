// Package care is the cell's etcd care: for every ACTIVE cluster of the cell
// it measures etcd into status.etcd (and the EtcdQuorum and EtcdLeader
// conditions' inputs), compacts history an API server failed to compact,
// defragments members that need it without stalling the leader, recovers
// from the NOSPACE alarm, and moves etcd's leader out of a zone out of
// rotation. internal/etcdcare holds the operations and decides how; this
// package decides when.
package care
