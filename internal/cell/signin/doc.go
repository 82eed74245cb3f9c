// Package signin is the token authenticator and the authorizer every tenant
// kube-apiserver of a cell calls, as webhooks served by the cell process over
// mutual TLS on the cell's address. Authentication verifies `aws eks
// get-token` tokens locally (package ekstoken) with the signing keys and
// access entries mirrored into the cell's store, so sign-in keeps working
// while the region is down; authorization grants what the caller's access
// policies grant, in their scope, and has no opinion otherwise, so the
// tenant's own RBAC still decides for everything else.
//
// Each cluster's API servers call /clusters/<namespace>/<name>/...; the
// client certificate they present must chain to that cluster's CA, so one
// cluster can neither authenticate against nor ask about another's entries,
// and a token's x-k8s-aws-id must name that cluster.
package signin
