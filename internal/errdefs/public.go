package errdefs

import "fmt"

// PublicError is an error whose message is written for the API's caller. Only
// these messages reach the caller; any other error is answered with its wire
// table row's generic message, so store details (namespaces, object names,
// addresses) never leak. It lives here, beside the sentinels it carries, so the
// packages that validate requests for the API can write such messages too.
type PublicError struct {
	// Kind is the sentinel the error matches with errors.Is.
	Kind error
	// Msg is the message shown to the caller.
	Msg string
}

func (e *PublicError) Error() string { return e.Msg }
func (e *PublicError) Unwrap() error { return e.Kind }

// Publicf returns an error of kind (a sentinel) with a message for the caller.
func Publicf(kind error, format string, args ...any) error {
	return &PublicError{Kind: kind, Msg: fmt.Sprintf(format, args...)}
}
