// Package signingkeys publishes, for every active access key, the SigV4
// signing keys of the sts service for yesterday, today and tomorrow (UTC):
// all a cell's sign-in authenticator needs to check an `aws eks get-token`
// token, and nothing that signs a request to any other service or on any
// other day. Secrets never leave the region. The region's Publisher keeps
// them current in the region store (daily and on every key change); the cell
// agent mirrors them into each cell's store, and the cells read them from
// there, so sign-in keeps working while the region is down.
package signingkeys
