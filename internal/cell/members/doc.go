// Package members replaces a tenant cluster's etcd members that lost their
// data while the others keep quorum, the way etcd documents it: the member is
// removed, added back as a learner (which does not vote, so it cannot cost
// quorum while it catches up), started empty with
// --initial-cluster-state=existing, and promoted once its log has caught up.
// The learner's record (etcdstate) is written before it can start, so a cell
// killed at any step finishes the job. When a majority lost their data no
// member can be replaced (removing one needs quorum): the restore package's
// in-place restore takes over.
package members
