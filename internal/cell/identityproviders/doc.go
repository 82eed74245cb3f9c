// Package identityproviders is the cell's side of a cluster's OIDC identity
// providers (EKS AssociateIdentityProviderConfig). The control plane writes
// them into the API servers' authentication configuration file
// (controlplane, authnconfig), which kube-apiserver reloads without a
// restart; this package reports, in the cluster's status, which providers
// every API server has loaded, so the region shows a provider ACTIVE only
// once each API server accepts its tokens, and gone only once none does.
package identityproviders
