// Package nodegroup is the `cellplane nodegroup` command group: create,
// list, describe, update and delete a cluster's managed node groups, over the
// EKS node group API that the aws-sdk-go-v2 EKS client speaks too. It stands
// on clikit like the rest of the CLI.
package nodegroup
