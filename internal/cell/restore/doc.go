// Package restore restores a tenant cluster's etcd from backups, in two
// concerns of the cluster's pass:
//
//   - FromBackup fills a new cluster created with spec.restoreFrom from its
//     source's backups before its etcd first starts, then replays the
//     incrementals once etcd serves; the cluster is not ACTIVE before.
//   - InPlace replaces a running cluster's etcd data with its own backups, on
//     an operator's request or by itself when a majority of members lost
//     their data and quorum can never come back. Every API server, controller
//     and etcd member stays stopped meanwhile, so no controller acts on a
//     half-restored store.
//
// Each step is recorded (etcdstate) before the next begins, so a cell killed
// at any point finishes the job when it comes back, and status.restore shows
// how far it got.
package restore
