// Package upgrades serves a cluster's version changes on the regional API:
// UpdateClusterVersion (an upgrade one minor at a time, or, with
// rollbackConfig, a rollback to the minor the cluster ran before its last
// upgrade), CancelUpdate of one still running, and the status of those
// updates, which it settles from what the cell reports in status.rollout.
// The cell carries the change out (internal/cell/rollout); this package
// decides whether it may start and records it.
package upgrades
