package api

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"

	apierrors "k8s.io/apimachinery/pkg/api/errors"

	"github.com/cellplane/cellplane/internal/components"
	"github.com/cellplane/cellplane/internal/eks"
	"github.com/cellplane/cellplane/internal/errdefs"
	"github.com/cellplane/cellplane/internal/ratelimit"
	"github.com/cellplane/cellplane/internal/sigv4"
)

// authError answers a request the verifier refused. Its rejections are written
// for the caller and carry no secret; anything else (the key store failing) is
// internal and goes through the table as it is. An unknown key gets the table's
// message whatever the reason (never issued, inactive, deleted, no account), so
// the answer tells nobody which keys exist.
func (s *server) authError(w http.ResponseWriter, r *http.Request, err error) {
	for _, kind := range []error{sigv4.ErrMissingAuth, sigv4.ErrMalformed,
		sigv4.ErrBadSignature, sigv4.ErrExpired, sigv4.ErrBodyTooLarge} {
		if errors.Is(err, kind) {
			err = &errdefs.PublicError{Kind: err, Msg: err.Error()}
			break
		}
	}
	s.writeError(w, r, err)
}

// Routing errors, which have no errdefs sentinel because nothing outside this
// package produces them.
var (
	errUnknownRoute     = errors.New("unknown route")
	errMethodNotAllowed = errors.New("method not allowed")
)

// Errors of operations whose EKS model names other types than the cluster
// operations do (the tagging operations), or that errdefs has no sentinel for.
var (
	errBadRequest            = errors.New("bad request")
	errResourceNotFoundByARN = errors.New("resource not found by ARN")
	errResourceInUse         = errors.New("resource in use")
)

// wireError is how one kind of error travels: status, EKS type and the message
// shown when the error carries none written for the caller.
type wireError struct {
	status  int
	typ     string
	message string
}

// errorTable maps internal errors to wire errors, first match wins. Store errors
// are matched by apimachinery's predicates, everything else with errors.Is.
var errorTable = []struct {
	match func(error) bool
	wire  wireError
}{
	{is(sigv4.ErrMissingAuth), wireError{403, eks.MissingAuthenticationTokenException, "Missing Authentication Token"}},
	{is(sigv4.ErrMalformed), wireError{400, eks.IncompleteSignatureException, "The request signature is incomplete."}},
	{is(sigv4.ErrExpiredToken), wireError{403, eks.ExpiredTokenException, "The security token included in the request is expired"}},
	{is(sigv4.ErrUnknownKey), wireError{403, eks.UnrecognizedClientException, "The security token included in the request is invalid."}},
	{is(sigv4.ErrBadSignature), wireError{403, eks.InvalidSignatureException, "The request signature we calculated does not match the signature you provided."}},
	{is(sigv4.ErrExpired), wireError{403, eks.InvalidSignatureException, "Signature expired."}},
	{is(sigv4.ErrBodyTooLarge), wireError{413, eks.RequestEntityTooLargeException, "The request body is too large."}},
	{is(ratelimit.ErrThrottled), wireError{429, eks.ThrottlingException, "Rate exceeded"}},
	{is(errBadRequest), wireError{400, eks.BadRequestException, "The request is not valid."}},
	{is(errResourceNotFoundByARN), wireError{404, eks.NotFoundException, "No resource was found for the ARN."}},
	{is(errResourceInUse), wireError{409, eks.ResourceInUseException, "The resource is in use."}},
	{is(errdefs.ErrNotFound), wireError{404, eks.ResourceNotFoundException, "The resource was not found."}},
	{apierrors.IsNotFound, wireError{404, eks.ResourceNotFoundException, "The resource was not found."}},
	{is(errdefs.ErrAlreadyExists), wireError{409, eks.ResourceInUseException, "The resource is in use."}},
	{apierrors.IsAlreadyExists, wireError{409, eks.ResourceInUseException, "The resource is in use."}},
	{apierrors.IsConflict, wireError{409, eks.ResourceInUseException, "The resource was changed by another request; retry."}},
	{is(errdefs.ErrInvalidParameter), wireError{400, eks.InvalidParameterException, "A parameter is not valid."}},
	{is(components.ErrUnknownVersion), wireError{400, eks.InvalidParameterException, "The Kubernetes version is not supported."}},
	{is(errdefs.ErrInvalidRequest), wireError{400, eks.InvalidRequestException, "The request is not valid."}},
	{is(errdefs.ErrLimitExceeded), wireError{400, eks.ResourceLimitExceededException, "A limit would be exceeded."}},
	{is(errdefs.ErrUnavailable), wireError{503, eks.ServiceUnavailableException, "The service is unavailable; retry later."}},
	{storeUnavailable, wireError{503, eks.ServiceUnavailableException, "The service is unavailable; retry later."}},
	{is(errUnknownRoute), wireError{404, eks.NotFoundException, "No operation is served at this path."}},
	{is(errMethodNotAllowed), wireError{405, eks.ClientException, "The method is not allowed on this path."}},
}

// internalError is the wire error of anything the table does not know.
var internalError = wireError{500, eks.ServerException, "An internal error occurred."}

// is returns a matcher for a sentinel.
func is(target error) func(error) bool {
	return func(err error) bool { return errors.Is(err, target) }
}

// storeUnavailable matches store errors that a retry may cure.
func storeUnavailable(err error) bool {
	return apierrors.IsServiceUnavailable(err) || apierrors.IsTimeout(err) ||
		apierrors.IsServerTimeout(err) || apierrors.IsTooManyRequests(err)
}

// classify finds err's wire error.
func classify(err error) wireError {
	for _, row := range errorTable {
		if row.match(err) {
			return row.wire
		}
	}
	return internalError
}

// writeError answers err as an EKS error: the type both in the header the AWS
// SDKs read first and in the body's "__type", which they fall back to.
func (s *server) writeError(w http.ResponseWriter, r *http.Request, err error) {
	wire := classify(err)
	msg := wire.message
	var pub *errdefs.PublicError
	switch {
	case wire == internalError:
		msg = fmt.Sprintf("%s Request ID: %s.", wire.message, requestID(r))
		s.log.LogAttrs(r.Context(), slog.LevelError, "request failed", requestAttrs(r, err)...)
	case errors.As(err, &pub):
		msg = pub.Msg
	case errors.Is(err, ratelimit.ErrThrottled):
		// A flood would flood the log too: throttled requests are debug detail.
		s.log.LogAttrs(r.Context(), slog.LevelDebug, "request throttled", requestAttrs(r, err)...)
	default:
		s.log.LogAttrs(r.Context(), slog.LevelWarn, "request rejected", requestAttrs(r, err)...)
	}
	w.Header().Set(eks.HeaderErrorType, wire.typ)
	s.writeJSON(w, r, wire.status, eks.ErrorBody{Type: wire.typ, Message: msg})
}

// requestAttrs names the failed request in a log record.
func requestAttrs(r *http.Request, err error) []slog.Attr {
	return []slog.Attr{
		slog.String("requestID", requestID(r)),
		slog.String("cluster", clusterOf(r)),
		slog.Any("error", err),
	}
}
