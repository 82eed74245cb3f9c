package eksinput

import (
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/cellplane/cellplane/internal/errdefs"
)

func TestDecodeBody(t *testing.T) {
	var in struct {
		Name string            `json:"name"`
		Tags map[string]string `json:"tags"`
	}
	r := httptest.NewRequest("POST", "/clusters", strings.NewReader(`{"name": "x", "unknown": 1}`))
	if err := DecodeBody(r, &in); err != nil || in.Name != "x" {
		t.Fatalf("DecodeBody = %+v, %v", in, err)
	}
	for body, msg := range map[string]string{
		"":             "The request body is empty",
		`{"name": "x"`: "ends in the middle",
		`{"name": x}`:  "not valid JSON (at byte 10)",
		`{"name": 1}`:  "The field name must be a JSON string.",
		`{"tags": []}`: "The field tags must be a JSON object.",
		`[]`:           "must be a JSON object",
		`{} {}`:        "found more data after it",
		`"` + strings.Repeat("a", MaxBodyBytes) + `"`: "larger than 1048576 bytes",
	} {
		r := httptest.NewRequest("POST", "/clusters", strings.NewReader(body))
		wantPublic(t, DecodeBody(r, &in), errdefs.ErrInvalidRequest, msg)
	}
}
