// Package etcdcare is the library of operations that keep a tenant cluster's etcd
// healthy: member status and quorum, bounded history (compaction), defragmentation
// that never stalls the leader, recovery from the NOSPACE alarm, full snapshots,
// incremental backup by tailing the watch stream, replay, restore with etcdutl, and
// member replacement.
//
// Every operation takes a *clientv3.Client for one cluster and re-reads etcd's own
// status before each step, so it is safe to interrupt and to run again. The cell's
// controllers decide when to call what; this package decides how.
package etcdcare
