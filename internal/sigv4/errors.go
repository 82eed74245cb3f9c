package sigv4

import "errors"

// Sentinel errors returned (wrapped, with detail safe to show the caller) by
// Verifier.Verify. They never carry a secret, a derived key or the expected
// signature. The regional API maps them to EKS wire errors in its error table:
//
//	ErrMissingAuth   → 403 MissingAuthenticationTokenException
//	                   "Missing Authentication Token"
//	ErrMalformed     → 400 IncompleteSignatureException (message says what is missing)
//	ErrUnknownKey    → 403 UnrecognizedClientException
//	                   "The security token included in the request is invalid."
//	ErrBadSignature  → 403 InvalidSignatureException
//	                   "The request signature we calculated does not match the signature
//	                   you provided. Check your AWS Secret Access Key and signing method."
//	                   (also a wrong service, region, scope date or Host, and a body
//	                   that does not hash to the signed X-Amz-Content-Sha256, with
//	                   the detail from the error)
//	ErrExpired       → 403 InvalidSignatureException "Signature expired: ..." or
//	                   "Signature not yet current: ..." (the error text carries it)
//	ErrBodyTooLarge  → 413 RequestEntityTooLargeException
//	ErrExpiredToken  → 403 ExpiredTokenException
//	                   "The security token included in the request is expired"
//
// A session token that is not one of ours, was tampered with or does not
// belong to the access key that signed wraps ErrUnknownKey, as AWS answers
// UnrecognizedClientException for it.
var (
	// ErrMissingAuth: the request carries no Authorization or no X-Amz-Date header.
	ErrMissingAuth = errors.New("missing authentication token")
	// ErrMalformed: the Authorization header or a signing field cannot be parsed.
	ErrMalformed = errors.New("incomplete signature")
	// ErrUnknownKey: the access key ID is not known to the KeyStore, is not
	// active, or belongs to no account.
	ErrUnknownKey = errors.New("the security token included in the request is invalid")
	// ErrBadSignature: the signature, its service, region or scope date, the
	// Host, or the body's hash do not match.
	ErrBadSignature = errors.New("the request signature we calculated does not match the signature you provided")
	// ErrExpired: X-Amz-Date is further than MaxSkew from the server's clock.
	ErrExpired = errors.New("signature expired or not yet current")
	// ErrBodyTooLarge: the body exceeds the bound the verifier reads to hash it.
	ErrBodyTooLarge = errors.New("request body too large")
	// ErrExpiredToken: the session token of temporary credentials has expired.
	ErrExpiredToken = errors.New("the security token included in the request is expired")
)
