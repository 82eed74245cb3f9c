// Package addons runs the cell's side of the managed add-ons. Its Mirror
// keeps the cell's copy of the region's Addon objects of the cell's clusters
// and pushes the cell's status back; its Reconciler applies each add-on's
// objects (CoreDNS: ServiceAccount, RBAC, Corefile, Deployment and the
// kube-dns Service; kube-proxy: ServiceAccount, RBAC, configuration and
// DaemonSet) into the tenant cluster with server-side apply under the field
// manager "eks", honouring resolveConflicts, reports the add-on's health,
// and removes the objects when the add-on goes unless it is preserved.
// Every step is an idempotent apply, so a cell killed at any point resumes.
// It does not build or load the images the objects name.
package addons
