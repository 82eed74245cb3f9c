// Package components builds and caches the upstream binaries that cellplane runs:
// kube-apiserver, kube-controller-manager, kube-scheduler, kubemark and kubectl from
// the k8s.io/kubernetes module, and etcd, etcdctl and etcdutl from the etcd modules.
//
// Builds are pinned by the release table in versions.go and verified against the
// committed components.sum, and their outputs are cached by version outside the
// source tree, so a machine builds each version once.
package components
