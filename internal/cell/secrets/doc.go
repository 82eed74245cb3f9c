// Package secrets is the cell's side of encrypting tenant clusters' Secrets at
// rest: it makes each cluster's keyset (internal/kms/keyset) on its first pass
// and keeps it in the cluster's directory wrapped by the service's key, so the
// cell can start the cluster's KMS plugins again while the region is down; it
// unwraps the keys for the plugins' environment and for the cluster's backups;
// and it gives a cluster restored from another's backups the source's keys, so
// it can read the Secrets it restored.
package secrets
