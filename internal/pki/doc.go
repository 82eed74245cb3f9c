// Package pki issues and keeps the certificates and keys of one tenant control
// plane and of cellplane's own servers.
//
// Every Ensure function is idempotent: it keeps what is on disk when it is
// still valid for the request and reissues otherwise, so a creation that
// crashed half-way resumes safely when retried. Keys are ECDSA P-256, which is
// quick to generate and accepted by Kubernetes and etcd alike.
package pki
