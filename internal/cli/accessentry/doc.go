// Package accessentry is the `cellplane access-entry` command group: create,
// list, describe and delete a cluster's access entries, and associate and
// disassociate their access policies, over the EKS access-entry API that the
// aws-sdk-go-v2 EKS client speaks too. It stands on clikit like the rest of
// the CLI.
package accessentry
