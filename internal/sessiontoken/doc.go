// Package sessiontoken owns the format of the region's temporary credentials
// (what STS AssumeRole hands out): an access key ID, a secret and a session
// token that carries, sealed, everything needed to check a request signed
// with them, so neither the region nor a cell stores them.
//
// A token has two layers. The outer one, sealed with the cell key that every
// cell holds, carries the claims (who, for which account, until when) and
// the SigV4 signing keys derived from the secret for the STS service, one per
// day the credential lives: all a cell's sign-in authenticator needs to check
// an `aws eks get-token` token, and nothing that signs anything else. The
// inner one, sealed with the region key that only the regional API holds,
// carries the secret itself, which the regional API needs to check requests
// to any of its services.
package sessiontoken
