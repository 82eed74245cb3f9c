package eksinput

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"reflect"

	"github.com/cellplane/cellplane/internal/errdefs"
)

// MaxBodyBytes bounds request bodies; a CreateCluster body is a few kilobytes.
const MaxBodyBytes = 1 << 20

// DecodeBody reads exactly one JSON object from the request body into v. Unknown
// fields are ignored, as EKS fields cellplane does not implement must not fail
// requests made by the AWS SDKs.
func DecodeBody(r *http.Request, v any) error {
	dec := json.NewDecoder(http.MaxBytesReader(nil, r.Body, MaxBodyBytes))
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
		return errdefs.Publicf(errdefs.ErrInvalidRequest, "The request body is larger than %d bytes.", MaxBodyBytes)
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
