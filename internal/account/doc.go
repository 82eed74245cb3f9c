// Package account owns the region's accounts and their access keys: IDs, names,
// key generation, and the encrypted secrets kept as Secrets in the management
// store. Store implements sigv4.KeyStore, so the regional API resolves a signed
// request's access key to its account through it.
package account
