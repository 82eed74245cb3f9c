// Package eksinput validates the fields of EKS requests before the regional API
// acts on them: cluster names, tags, idempotency tokens, the Kubernetes version,
// encryptionConfig, cellplane's fromBackup extension, and the fields stored
// only to be echoed. Every check is free of side effects and refuses with an
// errdefs.PublicError whose message is written for the caller.
package eksinput
