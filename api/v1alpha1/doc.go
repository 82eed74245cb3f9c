// Package v1alpha1 holds cellplane's resource types: the Cluster that the region stores
// and each cell reconciles. It imports no controller or runtime code, so clients,
// the CLI and the controllers can all depend on it.
//
// +kubebuilder:object:generate=true
// +groupName=cellplane.io
package v1alpha1
