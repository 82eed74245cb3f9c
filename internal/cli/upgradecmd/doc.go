// Package upgradecmd is `cellplane cluster upgrade`, `rollback` and
// `cancel-update`: UpdateClusterVersion (with force or rollbackConfig) and
// CancelUpdate on the regional API, and --wait, which follows the update's
// progress in the cell until it ends.
package upgradecmd
