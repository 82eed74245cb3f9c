// Package carotation carries out a tenant cluster's Kubernetes CA rotation on
// the cell, as the region asks for it in spec.certificateAuthorities: it makes
// each CA the spec names, keeps the cluster's trust bundle equal to the list,
// swaps the signer once its successor is trusted everywhere, and retires a CA
// the spec dropped once nothing trusts it any more.
//
// It reports each CA's distribution and signing status from what it can
// prove: a CA is distributed (COMPLETE) once every API server accepts a
// client certificate it signed and no controller runs with an older bundle
// (internal/cell/certroll restarts those); it is IN_USE once it is the signer
// and every API server serves a certificate it signed; a deleted CA is gone
// once every API server refuses its certificates. Every step is decided from
// the files on disk and the spec, so a cell killed at any point resumes.
// It changes files; certroll and internal/pki do the restarts and reissues.
package carotation
