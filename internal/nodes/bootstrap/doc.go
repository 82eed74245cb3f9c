// Package bootstrap owns the credentials a node joins a tenant cluster with,
// as kubeadm lays them out: a bootstrap token (a Secret in kube-system that
// kube-apiserver's bootstrap authenticator reads), the RBAC bindings that let
// token holders ask for a client certificate and have it approved, and the
// kubelet's bootstrap kubeconfig.
//
// It decides nothing about when tokens are made or how long they live: the
// node-group controller calls it with its own policy.
package bootstrap
