package sts

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/xml"
	"errors"
	"log/slog"
	"net/http"
	"strings"

	"github.com/cellplane/cellplane/internal/errdefs"
	"github.com/cellplane/cellplane/internal/iam"
	"github.com/cellplane/cellplane/internal/ratelimit"
	"github.com/cellplane/cellplane/internal/sigv4"
)

// The AWS query protocol as STS speaks it.
const (
	// SigningName is the service an STS request's SigV4 scope names.
	SigningName = "sts"
	// Version is the only API version STS has.
	Version = "2011-06-15"
	// Namespace is the XML namespace of every response.
	Namespace   = "https://sts.amazonaws.com/doc/2011-06-15/"
	formType    = "application/x-www-form-urlencoded"
	contentType = "text/xml"
)

// IsSTS reports whether r is for STS: signed for its service, or, unsigned,
// a form POST to / (which no EKS or KMS operation is), so that an unsigned
// STS call gets STS's answer.
func IsSTS(r *http.Request) bool {
	if svc := sigv4.SigningService(r); svc != "" {
		return svc == SigningName
	}
	return r.Method == http.MethodPost && r.URL.Path == "/" &&
		strings.HasPrefix(r.Header.Get("Content-Type"), formType)
}

// Errors of the protocol itself; the operations' come from iam and sigv4.
var (
	errValidation    = errors.New("validation error")
	errMissingAction = errors.New("missing action")
	errInvalidAction = errors.New("invalid action")
	errMethod        = errors.New("STS operations are POST requests to /")
)

// wireError is an STS error as it goes on the wire.
type wireError struct {
	status int
	code   string
	sender bool // Type Sender (the caller's fault) or Receiver
}

// wireErrors maps errors to STS's codes, first match wins. The messages of
// matched errors are written for the caller; anything unmatched is an
// internal error whose detail stays in the log.
var wireErrors = []struct {
	err  error
	wire wireError
}{
	{sigv4.ErrMissingAuth, wireError{http.StatusForbidden, "MissingAuthenticationToken", true}},
	{sigv4.ErrMalformed, wireError{http.StatusBadRequest, "IncompleteSignature", true}},
	{sigv4.ErrExpiredToken, wireError{http.StatusBadRequest, "ExpiredToken", true}},
	{sigv4.ErrUnknownKey, wireError{http.StatusForbidden, "InvalidClientTokenId", true}},
	{sigv4.ErrBadSignature, wireError{http.StatusForbidden, "SignatureDoesNotMatch", true}},
	{sigv4.ErrExpired, wireError{http.StatusForbidden, "SignatureDoesNotMatch", true}},
	{sigv4.ErrBodyTooLarge, wireError{http.StatusRequestEntityTooLarge, "RequestEntityTooLarge", true}},
	{ratelimit.ErrThrottled, wireError{http.StatusBadRequest, "Throttling", true}},
	{iam.ErrAccessDenied, wireError{http.StatusForbidden, "AccessDenied", true}},
	{errValidation, wireError{http.StatusBadRequest, "ValidationError", true}},
	{errdefs.ErrInvalidParameter, wireError{http.StatusBadRequest, "ValidationError", true}},
	{errMissingAction, wireError{http.StatusBadRequest, "MissingAction", true}},
	{errInvalidAction, wireError{http.StatusBadRequest, "InvalidAction", true}},
	{errMethod, wireError{http.StatusMethodNotAllowed, "InvalidAction", true}},
}

var internalError = wireError{http.StatusInternalServerError, "InternalFailure", false}

type errorResponse struct {
	XMLName   xml.Name `xml:"ErrorResponse"`
	Xmlns     string   `xml:"xmlns,attr"`
	Error     errorBody
	RequestID string `xml:"RequestId"`
}

type errorBody struct {
	Type    string
	Code    string
	Message string
}

type responseMetadata struct {
	RequestID string `xml:"RequestId"`
}

// WriteError answers err as STS does: an ErrorResponse with the code and a
// message. It is also the guard's answer to a refused signature or rate.
func WriteError(log *slog.Logger) func(w http.ResponseWriter, r *http.Request, err error) {
	return func(w http.ResponseWriter, r *http.Request, err error) {
		we, msg := internalError, "The service failed to serve the request; retry."
		for _, e := range wireErrors {
			if errors.Is(err, e.err) {
				we, msg = e.wire, err.Error()
				break
			}
		}
		id := requestID(w)
		if we == internalError {
			log.Error("sts request failed", "requestID", id, "err", err)
		} else {
			log.Debug("sts request refused", "requestID", id, "code", we.code, "err", err)
		}
		typ := "Sender"
		if !we.sender {
			typ = "Receiver"
		}
		writeXML(w, we.status, errorResponse{Xmlns: Namespace, Error: errorBody{Type: typ, Code: we.code, Message: msg}, RequestID: id})
	}
}

// requestID names the response in its header and body; the log records it.
func requestID(w http.ResponseWriter) string {
	if id := w.Header().Get("X-Amzn-RequestId"); id != "" {
		return id
	}
	b := make([]byte, 16)
	_, _ = rand.Read(b) // never fails (crypto/rand panics rather than return an error)
	h := hex.EncodeToString(b)
	id := h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
	w.Header().Set("X-Amzn-RequestId", id)
	return id
}

func writeXML(w http.ResponseWriter, status int, v any) {
	body, err := xml.Marshal(v)
	if err != nil {
		status = http.StatusInternalServerError
		body = []byte(`<ErrorResponse xmlns="` + Namespace + `"><Error><Type>Receiver</Type><Code>InternalFailure</Code><Message>encoding the answer failed</Message></Error></ErrorResponse>`)
	}
	w.Header().Set("Content-Type", contentType)
	w.WriteHeader(status)
	_, _ = w.Write([]byte(xml.Header))
	_, _ = w.Write(body) // the client went away: nothing to tell it
}
