// Package idp is the `cellplane cluster identity-provider` command group: a
// cluster's OIDC identity provider, associated, described, listed and
// disassociated through the EKS operations of the regional API, with --wait
// following the change until every API server has loaded it.
package idp
