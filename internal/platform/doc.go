// Package platform owns platform versions: everything cellplane sets around
// the upstream binaries of a Kubernetes minor (component flags, the audit
// policy), versioned per minor as cellplane.N like EKS's eks.N. It holds the
// built-in catalogue, checks versions operators register, and resolves the
// version a cluster runs (Resolve). It does not decide when a cluster moves:
// platform rollouts (package rollout) do.
package platform
