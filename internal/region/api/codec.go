package api

import (
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"reflect"

	"github.com/cellplane/cellplane/internal/errdefs"
)

// maxBodyBytes bounds request bodies; a CreateCluster body is a few kilobytes.
const maxBodyBytes = 1 << 20

// decodeBody reads exactly one JSON object from the request body into v. Unknown
// fields are ignored, as EKS fields cellplane does not implement must not fail
// requests made by the AWS SDKs.
func decodeBody(r *http.Request, v any) error {
	dec := json.NewDecoder(http.MaxBytesReader(nil, r.Body, maxBodyBytes))
	if err := dec.Decode(v); err != nil {
		return bodyError(err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return errdefs.Publicf(errdefs.ErrInvalidRequest, "The request body must hold a single JSON object; found more data after it.")
	}
	return nil
}

// bodyError explains a decoding failure without Go type names.
func bodyError(err error) error {
	var (
		syntax  *json.SyntaxError
		typ     *json.UnmarshalTypeError
		tooLong *http.MaxBytesError
	)
	switch {
	case errors.Is(err, io.EOF):
		return errdefs.Publicf(errdefs.ErrInvalidRequest, "The request body is empty; expected a JSON object.")
	case errors.Is(err, io.ErrUnexpectedEOF):
		return errdefs.Publicf(errdefs.ErrInvalidRequest, "The request body ends in the middle of its JSON object.")
	case errors.As(err, &tooLong):
		return errdefs.Publicf(errdefs.ErrInvalidRequest, "The request body is larger than %d bytes.", maxBodyBytes)
	case errors.As(err, &syntax):
		return errdefs.Publicf(errdefs.ErrInvalidRequest, "The request body is not valid JSON (at byte %d).", syntax.Offset)
	case errors.As(err, &typ) && typ.Field != "":
		return errdefs.Publicf(errdefs.ErrInvalidRequest, "The field %s must be a JSON %s.", typ.Field, jsonKind(typ.Type))
	case errors.As(err, &typ):
		return errdefs.Publicf(errdefs.ErrInvalidRequest, "The request body must be a JSON object.")
	}
	return errdefs.Publicf(errdefs.ErrInvalidRequest, "The request body could not be read.")
}

// jsonKind names the JSON type that decodes into t.
func jsonKind(t reflect.Type) string {
	switch t.Kind() {
	case reflect.String:
		return "string"
	case reflect.Bool:
		return "boolean"
	case reflect.Map, reflect.Struct:
		return "object"
	case reflect.Slice, reflect.Array:
		return "array"
	}
	return "number"
}

// writeJSON answers with v as the JSON body. A value that cannot be encoded is a
// bug; it is logged and answered with an empty 500, since the status line may
// already be on its way.
func (s *server) writeJSON(w http.ResponseWriter, r *http.Request, status int, v any) {
	body, err := json.Marshal(v)
	if err != nil {
		s.log.LogAttrs(r.Context(), slog.LevelError, "encoding response", requestAttrs(r, err)...)
		w.WriteHeader(http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(append(body, '\n'))
}
