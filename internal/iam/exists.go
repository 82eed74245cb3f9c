package iam

import (
	"context"
	"errors"

	"github.com/cellplane/cellplane/internal/errdefs"
)

// Exists reports whether arn names a user or role that exists; an ARN that
// is not a principal's does not name one. The regional API asks it before it
// stores an access entry.
func (s *Store) Exists(ctx context.Context, arn string) (bool, error) {
	p, err := ParseARN(arn)
	if err != nil {
		return false, nil
	}
	switch p.Kind {
	case KindUser:
		_, err = s.GetUser(ctx, p.Account, p.Name)
	case KindRole:
		_, err = s.GetRole(ctx, p.Account, p.Name)
	default:
		return false, nil
	}
	if errors.Is(err, errdefs.ErrNotFound) || errors.Is(err, errdefs.ErrInvalidParameter) {
		return false, nil
	}
	return err == nil, err
}
