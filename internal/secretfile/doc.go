// Package secretfile stores the service's own secrets on local disk (the
// account master key, the backup key-encryption key, the saved S3
// credentials) so that a crash, a full disk or a damaged sector never turns
// into a silently wrong key.
//
// A file is a one-line header naming the format and the SHA-256 of the
// payload, then the payload. Writes go through pki's atomic writers (fsync of
// the file, rename or link, fsync of the directory); reads check the mode,
// the header and the checksum, and name the file in every error. Files
// written before the header existed are read through a caller-supplied
// validator and rewritten in the new format once.
package secretfile
