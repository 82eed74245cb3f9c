// Package envelope owns the client-side encryption of backups: data keys, their
// wrapping by a key-encryption key (KMS, with LocalKMS keeping that key in a file),
// and the stream format that compresses with zstd and then encrypts in
// authenticated chunks, so that no byte of a backup reaches object storage in the
// clear and any tampering or truncation is detected on restore.
package envelope
