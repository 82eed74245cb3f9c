// Package sigv4 verifies AWS Signature Version 4 on incoming requests, so the
// regional API can accept the requests real AWS SDKs and the aws CLI sign. It owns
// the canonical-request algorithm, the key lookup interface (KeyStore) and the HTTP
// middleware that puts the verified account into the request context; it does not
// store keys (see internal/account) nor write wire errors (the API's error table
// maps this package's sentinel errors).
//
// A request is judged on its headers first (scope, region, Host, key, account)
// and its body is read only after they pass, bounded by MaxBody; see
// Verifier.Verify for when the signature itself is checked.
package sigv4
