package sigv4

import (
	"context"
	"fmt"
)

// Credentials is one access key and the account and principal it acts for.
type Credentials struct {
	AccessKeyID     string
	SecretAccessKey string
	Account         string
	// Principal is the ARN the key signs as: an IAM user
	// (arn:aws:iam::<account>:user/<name>) or, for temporary credentials, an
	// assumed role (arn:aws:sts::<account>:assumed-role/<role>/<session>).
	Principal string
}

// KeyStore finds the credentials of an access key ID. Lookup returns an error
// wrapping ErrUnknownKey when the key does not exist; any other error is treated
// as internal (the store could not be read).
type KeyStore interface {
	Lookup(ctx context.Context, accessKeyID string) (Credentials, error)
}

// SessionOpener finds the credentials of temporary credentials from their
// session token (the X-Amz-Security-Token header), without a store: the token
// carries them, sealed. It returns an error wrapping ErrUnknownKey when the
// token is not valid for accessKeyID and ErrExpiredToken when it has expired;
// any other error is internal.
type SessionOpener interface {
	OpenSession(accessKeyID, token string) (Credentials, error)
}

// StaticKeys is a KeyStore over a fixed map keyed by access key ID, for tests and
// single-account development setups.
type StaticKeys map[string]Credentials

// Lookup implements KeyStore.
func (s StaticKeys) Lookup(_ context.Context, accessKeyID string) (Credentials, error) {
	c, ok := s[accessKeyID]
	if !ok {
		return Credentials{}, fmt.Errorf("looking up access key %q: %w", accessKeyID, ErrUnknownKey)
	}
	return c, nil
}
