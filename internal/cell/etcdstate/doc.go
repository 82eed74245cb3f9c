// Package etcdstate keeps the crash-safe records of a cluster's etcd
// orchestration: that its etcd formed once, which members were added back as
// learners after losing their data, and how far a restore (into a new
// cluster, or in place) got. Each record is a small file written atomically
// and durably beside the members' data, so a cell killed at any step finds
// where it was; Show mirrors them into the Cluster's status, where operators
// see them. The concerns that act on the records (members, restore, the
// cluster lifecycle) live in their own packages; this one only keeps them and
// answers what they imply (which members must stay stopped, whether a member
// may start).
package etcdstate
