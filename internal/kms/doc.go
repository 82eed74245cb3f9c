// Package kms holds what encrypts tenant clusters' Secrets at rest: keyset, a
// cluster's key-encryption keys and how the cell stores them wrapped by the
// service's key, and plugin, the KMS v2 plugin each cluster's API servers
// seal their data keys with. The cell's side (creating, importing and handing
// over keys) lives in internal/cell/secrets.
package kms
