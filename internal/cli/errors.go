package cli

import (
	"errors"
	"net"

	"github.com/cellplane/cellplane/internal/eks"
)

// userMessage is what the user sees for err: the API's own message for API errors
// (already phrased for users), the wrapped chain otherwise.
func userMessage(err error) string {
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
