// Package errdefs holds cellplane's sentinel errors. Code wraps them with %w and
// context; the regional API maps them to EKS wire errors in one table, and callers
// match them with errors.Is, never by message text.
package errdefs

import "errors"

var (
	// ErrNotFound: the named resource does not exist (for this account).
	ErrNotFound = errors.New("not found")
	// ErrAlreadyExists: a resource with that name exists already.
	ErrAlreadyExists = errors.New("already exists")
	// ErrInvalidParameter: a field of the request is malformed or out of range.
	ErrInvalidParameter = errors.New("invalid parameter")
	// ErrInvalidRequest: the request is well-formed but not allowed in this state.
	ErrInvalidRequest = errors.New("invalid request")
	// ErrLimitExceeded: a quota or capacity would be exceeded.
	ErrLimitExceeded = errors.New("limit exceeded")
	// ErrUnavailable: a dependency (a store, a cell) cannot be reached right now.
	ErrUnavailable = errors.New("unavailable")
	// ErrInvalidConfig: a process's configuration (flags, the data directory's
	// record) is not one it can run with. It never reaches the regional API.
	ErrInvalidConfig = errors.New("invalid configuration")
	// ErrNotRunning: no cellplane serves the data directory.
	ErrNotRunning = errors.New("cellplane is not running")
)
