// Package certauthorities serves the regional API's certificate-authority
// rotation operations, the EKS way: CreateCertificateAuthority,
// ActivateCertificateAuthority, DeleteCertificateAuthority,
// DescribeCertificateAuthority and ListCertificateAuthorities. The rules of
// each step live in internal/clusterca; this package reads the cluster,
// applies a step, records its update and settles the updates in progress
// from what the cell reports. It reads and writes clusters only through the
// Clusters the regional API hands it, and its errors go through the API's
// one wire-error table.
package certauthorities
