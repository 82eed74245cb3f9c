// Package plugin is the KMS v2 plugin (k8s.io/kms) of one tenant cluster:
// kube-apiserver hands it the data keys it seals Secrets with, and it seals
// them with the cluster's primary key-encryption key (AES-256-GCM, the key's
// ID as additional data) and opens them with whichever key the stored ID
// names. It serves gRPC on a unix socket in the cluster's directory and runs
// as its own process (`cellplane kms-plugin`), supervised by the cell like
// the cluster's other members; it gets its keys in the clear from the cell
// that starts it and never reads the service's key.
package plugin
