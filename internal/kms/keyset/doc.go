// Package keyset owns a tenant cluster's key-encryption keys for Secrets: the
// set of AES-256 keys its KMS plugin seals the API servers' data keys with (one
// primary for new writes, the others kept to read what they sealed), its
// plaintext encoding handed to the plugin and carried in backups, and its
// stored form, every key wrapped by a key only the service holds
// (envelope.KMS), so the cell can start the plugin again while the region is
// down without a plaintext key ever reaching the disk.
package keyset
