package clikit

import (
	"errors"
	"fmt"
	"net"

	"github.com/cellplane/cellplane/internal/eks"
)

// UsageError marks errors in how the command was called (exit code 2).
type UsageError struct{ error }

// Usagef is a usage error with a formatted message.
func Usagef(format string, a ...any) error { return UsageError{fmt.Errorf(format, a...)} }

// ExitCode is the process exit code for a command that failed with err.
func ExitCode(err error) int {
	var u UsageError
	if errors.As(err, &u) {
		return 2
	}
	return 1
}

// UserMessage is what the user sees for err: the API's own message for API errors
// (already phrased for users), the wrapped chain otherwise.
func UserMessage(err error) string {
	var apiErr *eks.APIError
	if errors.As(err, &apiErr) {
		return apiErr.Message
	}
	var netErr *net.OpError
	if errors.As(err, &netErr) && netErr.Op == "dial" {
		return "cannot reach cellplane (" + netErr.Error() + "): is 'cellplane up' running on this data directory?"
	}
	return err.Error()
}

// Usage marks err as a usage error.
func Usage(err error) error { return UsageError{err} }
