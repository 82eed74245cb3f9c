// Package identityproviders serves the regional API's OIDC identity provider
// operations, the EKS way: AssociateIdentityProviderConfig,
// DescribeIdentityProviderConfig, ListIdentityProviderConfigs and
// DisassociateIdentityProviderConfig. A provider lives in its cluster's
// spec; the cell writes it into the API servers' authentication
// configuration, which they reload without a restart, and reports which
// providers every API server has loaded. This package turns that into the
// providers' statuses and settles their updates. It reads and writes
// clusters only through the Clusters the regional API hands it, and its
// errors go through the API's one wire-error table.
package identityproviders
