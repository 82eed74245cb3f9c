// Package backups backs up every running cluster of a cell continuously: one
// worker per cluster takes full etcd snapshots and stores incrementals from
// etcd's watch stream between them, so the recovery point stays a few
// seconds, and reports status.backup. internal/backup holds the backup set
// (catalog, encryption, object storage); this package runs the workers.
package backups
