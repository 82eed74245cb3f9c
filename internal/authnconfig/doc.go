// Package authnconfig renders a cluster's OIDC identity providers as
// kube-apiserver's structured authentication configuration
// (AuthenticationConfiguration, apiserver.config.k8s.io/v1, read through
// --authentication-config) and reads back, from an API server's metrics, which
// configuration it has loaded. kube-apiserver watches that file and swaps its
// JWT authenticators when it changes, so providers come and go without a
// restart. It does no I/O of its own: the cell writes the file and asks the
// API servers.
package authnconfig
