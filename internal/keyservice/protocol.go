package keyservice

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"

	"github.com/cellplane/cellplane/internal/ratelimit"
	"github.com/cellplane/cellplane/internal/sigv4"
)

// The AWS KMS wire protocol: JSON 1.1, every operation a POST to / named by
// the X-Amz-Target header, signed for the service "kms".
const (
	// TargetPrefix starts the X-Amz-Target of every KMS operation.
	TargetPrefix = "TrentService."
	// SigningName is the service a KMS request's SigV4 scope names.
	SigningName = "kms"
	contentType = "application/x-amz-json-1.1"
	maxBody     = 64 << 10
)

// IsKMS reports whether r is a KMS call, which the regional API's routing
// point (internal/region) hands to this package instead of the EKS routes.
func IsKMS(r *http.Request) bool {
	return strings.HasPrefix(r.Header.Get("X-Amz-Target"), TargetPrefix)
}

// wireError is a KMS error as it goes on the wire.
type wireError struct {
	status int
	code   string
}

// wireErrors maps the sentinels to KMS error codes, first match wins. The
// sentinels' messages are safe to show; anything unmatched is an internal
// error whose detail stays in the log.
var wireErrors = []struct {
	err  error
	wire wireError
}{
	{ErrNotFound, wireError{http.StatusBadRequest, "NotFoundException"}},
	{ErrDisabled, wireError{http.StatusBadRequest, "DisabledException"}},
	{ErrValidation, wireError{http.StatusBadRequest, "ValidationException"}},
	{ErrUnsupported, wireError{http.StatusBadRequest, "UnsupportedOperationException"}},
	{ErrLimitExceeded, wireError{http.StatusBadRequest, "LimitExceededException"}},
	{errSerialization, wireError{http.StatusBadRequest, "SerializationException"}},
	{errUnknownOperation, wireError{http.StatusBadRequest, "UnknownOperationException"}},
	{errMethod, wireError{http.StatusMethodNotAllowed, "ValidationException"}},
	{sigv4.ErrMissingAuth, wireError{http.StatusForbidden, "MissingAuthenticationTokenException"}},
	{sigv4.ErrMalformed, wireError{http.StatusBadRequest, "IncompleteSignatureException"}},
	{sigv4.ErrExpiredToken, wireError{http.StatusBadRequest, "ExpiredTokenException"}},
	{sigv4.ErrUnknownKey, wireError{http.StatusBadRequest, "UnrecognizedClientException"}},
	{sigv4.ErrBadSignature, wireError{http.StatusBadRequest, "InvalidSignatureException"}},
	{sigv4.ErrExpired, wireError{http.StatusBadRequest, "InvalidSignatureException"}},
	{sigv4.ErrBodyTooLarge, wireError{http.StatusRequestEntityTooLarge, "RequestEntityTooLargeException"}},
	{ratelimit.ErrThrottled, wireError{http.StatusBadRequest, "ThrottlingException"}},
}

var (
	errSerialization    = errors.New("the request body is not valid JSON for this operation")
	errUnknownOperation = errors.New("unknown operation")
	errMethod           = errors.New("KMS operations are POST requests to /")
)

// WriteError answers err as AWS KMS does: the code in __type and in
// X-Amzn-ErrorType, the message in "message". It is also the guard's answer
// to a refused signature or rate.
func WriteError(log *slog.Logger) func(w http.ResponseWriter, r *http.Request, err error) {
	return func(w http.ResponseWriter, r *http.Request, err error) {
		we, msg := wireErrorOf(err)
		if we.status >= http.StatusInternalServerError {
			log.Error("key service request failed", "target", r.Header.Get("X-Amz-Target"), "err", err)
		}
		w.Header().Set("X-Amzn-ErrorType", we.code)
		writeJSON(w, we.status, map[string]string{"__type": we.code, "message": msg})
	}
}

func wireErrorOf(err error) (wireError, string) {
	for _, e := range wireErrors {
		if errors.Is(err, e.err) {
			return e.wire, err.Error()
		}
	}
	return wireError{http.StatusInternalServerError, "KMSInternalException"}, "The key service failed to serve the request; retry."
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	body, err := json.Marshal(v)
	if err != nil {
		status, body = http.StatusInternalServerError, []byte(`{"__type":"KMSInternalException","message":"encoding the answer failed"}`)
	}
	w.Header().Set("Content-Type", contentType)
	w.WriteHeader(status)
	_, _ = w.Write(body) // the client went away: nothing to tell it
}

// decode reads the JSON body into in; an empty body is an empty object.
func decode(r *http.Request, in any) error {
	data, err := io.ReadAll(io.LimitReader(r.Body, maxBody+1))
	if err != nil {
		return fmt.Errorf("%w: %v", errSerialization, err)
	}
	if len(data) > maxBody {
		return fmt.Errorf("%w: the body is over %d bytes", ErrValidation, maxBody)
	}
	if len(strings.TrimSpace(string(data))) == 0 {
		return nil
	}
	if err := json.Unmarshal(data, in); err != nil {
		return fmt.Errorf("%w: %v", errSerialization, err)
	}
	return nil
}
