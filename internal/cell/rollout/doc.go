// Package rollout moves a running control plane from one release to another
// one member at a time, the way an in-place upgrade (or a rollback) must go to
// keep every request served: the members whose process changes move in the
// order the version skew policy allows (etcd, API servers, controllers going
// up; the reverse going down), an API server is drained at the endpoint
// before it stops and must answer /readyz before the next one moves, and a
// full backup is the restore point before anything moves. A member that does
// not come back in time fails the step: the members already moved go back,
// and the cluster ends wholly on the release it left.
//
// Progress lives in the cluster's status.rollout, written before each step is
// taken, so a cell killed at any point carries on where it was. The package
// decides and records; the cell's lifecycle pass runs the processes through
// the narrow Env it hands in.
package rollout
