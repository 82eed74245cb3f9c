// Package certroll restarts, one member at a time, the components of a tenant
// control plane that read their certificates only when they start, once the
// certificates on disk changed under them.
//
// Upstream, kube-apiserver reloads its serving certificate, client CA and
// proxy and kubelet client certificates from disk, and etcd reads its
// certificates on every handshake, so renewing theirs restarts nothing.
// kube-controller-manager and kube-scheduler read their kubeconfig's client
// certificate through client-go, which reloads it for new connections but
// closes the connections that hold the old one only when it next handshakes
// or polls the file (every five minutes), while kube-apiserver checks a client
// certificate's expiry on every request. That is enough for a month-long
// renewal window and no guarantee for a short one, so this package restarts
// them: each member records what it started with, and a member whose record
// differs from the disk is restarted once its peers are healthy, waiting for
// it to be healthy before the next. A restart is once per renewal: once a year
// on the defaults.
// It decides when to restart; internal/pki decides when to renew.
package certroll
