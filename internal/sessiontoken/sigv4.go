package sessiontoken

import (
	"errors"
	"fmt"

	"github.com/cellplane/cellplane/internal/sigv4"
)

var _ sigv4.SessionOpener = (*Sealer)(nil)

// OpenSession implements sigv4.SessionOpener for the regional API: the
// credentials a token stands for, checked without any store. A token that is
// expired wraps sigv4.ErrExpiredToken; one that is not ours, was tampered
// with or belongs to another access key wraps sigv4.ErrUnknownKey.
func (s *Sealer) OpenSession(accessKeyID, token string) (sigv4.Credentials, error) {
	c, secret, err := s.Open(token)
	switch {
	case errors.Is(err, ErrExpired):
		return sigv4.Credentials{}, fmt.Errorf("%w: %w", sigv4.ErrExpiredToken, err)
	case err != nil:
		return sigv4.Credentials{}, fmt.Errorf("%w: %w", sigv4.ErrUnknownKey, err)
	case c.AccessKeyID != accessKeyID:
		return sigv4.Credentials{}, fmt.Errorf("%w: the session token belongs to another access key", sigv4.ErrUnknownKey)
	}
	return sigv4.Credentials{AccessKeyID: c.AccessKeyID, SecretAccessKey: secret, Account: c.Account, Principal: c.AssumedRoleARN()}, nil
}
