package pki

import "errors"

var (
	// ErrMalformed marks a certificate or key file that exists but cannot be
	// used: bad PEM, unparsable DER, a key that does not match its
	// certificate, or a CA file holding a leaf. The Ensure functions replace such files; any other read
	// error is returned instead, so a transient I/O failure never rotates a CA.
	ErrMalformed = errors.New("malformed certificate or key")

	// ErrInvalidRequest marks a CertRequest or ClusterSpec that cannot be
	// turned into certificates.
	ErrInvalidRequest = errors.New("invalid certificate request")

	// ErrInvalidRenewal marks a Renewal that would let certificates expire
	// before components reload them, or renew them all the time.
	ErrInvalidRenewal = errors.New("invalid leaf certificate lifetime")

	// errStale marks a well-formed pair that no longer fits: signed by another
	// CA, close to expiry, or issued for different names or usages.
	errStale = errors.New("stale certificate")
)
