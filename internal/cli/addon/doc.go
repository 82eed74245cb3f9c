// Package addon is the `cellplane addon` command group: create, list,
// describe, update and delete a cluster's managed add-ons (CoreDNS,
// kube-proxy), and list the versions offered per Kubernetes minor, over the
// EKS add-on API that the aws-sdk-go-v2 EKS client speaks too. It stands on
// clikit like the rest of the CLI.
package addon
