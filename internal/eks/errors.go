package eks

import (
	"fmt"

	"github.com/cellplane/cellplane/internal/errdefs"
)

// HeaderErrorType is the response header that names the error type. The AWS SDKs
// read it first (restjson deserializers use X-Amzn-ErrorType and fall back to the
// body's "__type" or "code"); the server sets both.
const HeaderErrorType = "X-Amzn-Errortype"

// HeaderRequestID is the response header with the request's ID, which the server
// also logs, so a user's report of a failure can be found in the logs.
const HeaderRequestID = "X-Amzn-Requestid"

// EKS error types that cellplane returns.
const (
	ResourceNotFoundException      = "ResourceNotFoundException"
	ResourceInUseException         = "ResourceInUseException"
	InvalidParameterException      = "InvalidParameterException"
	InvalidRequestException        = "InvalidRequestException"
	ResourceLimitExceededException = "ResourceLimitExceededException"
	ClientException                = "ClientException"
	ServerException                = "ServerException"
	ServiceUnavailableException    = "ServiceUnavailableException"
	// NotFoundException is what EKS answers for a path it does not serve, and
	// for an unknown resource ARN in the tagging operations. It maps to no
	// sentinel: a client must not read a missing route as a missing cluster.
	NotFoundException = "NotFoundException"
	// BadRequestException is the tagging operations' answer to a malformed ARN
	// or invalid tags, where cluster operations say InvalidParameterException.
	BadRequestException = "BadRequestException"
	// Authentication errors, as every AWS service names them.
	MissingAuthenticationTokenException = "MissingAuthenticationTokenException"
	IncompleteSignatureException        = "IncompleteSignatureException"
	UnrecognizedClientException         = "UnrecognizedClientException"
	ExpiredTokenException               = "ExpiredTokenException"
	InvalidSignatureException           = "InvalidSignatureException"
	RequestEntityTooLargeException      = "RequestEntityTooLargeException"
	// ThrottlingException (HTTP 429) is in every AWS SDK's list of throttle
	// errors, so they back off and retry.
	ThrottlingException = "ThrottlingException"
)

// sentinels maps error types back to errdefs, so code on the client side matches
// wire errors with errors.Is exactly as server-side code matches internal ones.
var sentinels = map[string]error{
	ResourceNotFoundException:      errdefs.ErrNotFound,
	ResourceInUseException:         errdefs.ErrAlreadyExists,
	InvalidParameterException:      errdefs.ErrInvalidParameter,
	BadRequestException:            errdefs.ErrInvalidParameter,
	InvalidRequestException:        errdefs.ErrInvalidRequest,
	ResourceLimitExceededException: errdefs.ErrLimitExceeded,
	ServiceUnavailableException:    errdefs.ErrUnavailable,
}

// ErrorBody is the JSON body of an error response.
type ErrorBody struct {
	Type    string `json:"__type,omitempty"`
	Message string `json:"message"`
}

// APIError is an error answered by the regional API.
type APIError struct {
	// Type is the EKS error type, for example ResourceNotFoundException.
	Type string
	// Message is the server's explanation, safe to show to users.
	Message string
	// Status is the HTTP status code of the response.
	Status int
}

// Error formats the error as the AWS CLI does: "Type: message".
func (e *APIError) Error() string {
	return fmt.Sprintf("%s: %s", e.Type, e.Message)
}

// Is reports whether the error's type corresponds to the errdefs sentinel target,
// so callers write errors.Is(err, errdefs.ErrNotFound).
func (e *APIError) Is(target error) bool {
	s, ok := sentinels[e.Type]
	return ok && s == target
}
