package keyservice

import (
	"errors"
	"fmt"

	"github.com/cellplane/cellplane/internal/errdefs"
)

// Sentinels of the key service; the KMS protocol maps them to its wire
// errors (see wireErrors), and the EKS API to InvalidParameterException when
// a cluster names a key it cannot use. Their messages are safe to show.
var (
	// ErrNotFound: no key of the caller's account has that ID or ARN.
	ErrNotFound = fmt.Errorf("key %w", errdefs.ErrNotFound)
	// ErrDisabled: the key is disabled; it cannot serve until enabled.
	ErrDisabled = errors.New("key is disabled")
	// ErrValidation: a request field is missing or malformed.
	ErrValidation = fmt.Errorf("validation failed: %w", errdefs.ErrInvalidParameter)
	// ErrUnsupported: a valid KMS request cellplane does not implement (an
	// asymmetric key, imported material, ...).
	ErrUnsupported = errors.New("unsupported")
	// ErrLimitExceeded: the account holds as many keys as it may.
	ErrLimitExceeded = fmt.Errorf("key %w", errdefs.ErrLimitExceeded)
)

// Unusable reports whether err says a key cannot back a cluster's
// encryption (missing, disabled or malformed) rather than that the service
// failed.
func Unusable(err error) bool {
	return errors.Is(err, ErrNotFound) || errors.Is(err, ErrDisabled) || errors.Is(err, ErrValidation)
}
