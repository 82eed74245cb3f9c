package eks

import (
	"errors"
	"fmt"
	"testing"

	"github.com/cellplane/cellplane/internal/errdefs"
)

func TestAPIErrorIs(t *testing.T) {
	for typ, want := range map[string]error{
		ResourceNotFoundException:      errdefs.ErrNotFound,
		ResourceInUseException:         errdefs.ErrAlreadyExists,
		InvalidParameterException:      errdefs.ErrInvalidParameter,
		BadRequestException:            errdefs.ErrInvalidParameter,
		InvalidRequestException:        errdefs.ErrInvalidRequest,
		ResourceLimitExceededException: errdefs.ErrLimitExceeded,
		ServiceUnavailableException:    errdefs.ErrUnavailable,
	} {
		err := fmt.Errorf("describing cluster x: %w", &APIError{Type: typ, Message: "m", Status: 400})
		if !errors.Is(err, want) {
			t.Errorf("%s does not match %v", typ, want)
		}
		if errors.Is(err, errdefs.ErrNotFound) != (want == errdefs.ErrNotFound) {
			t.Errorf("%s matches the wrong sentinel", typ)
		}
	}
	for _, typ := range []string{ServerException, ClientException, NotFoundException, "Whatever"} {
		err := &APIError{Type: typ}
		for _, s := range []error{errdefs.ErrNotFound, errdefs.ErrAlreadyExists, errdefs.ErrInvalidParameter, errdefs.ErrInvalidRequest, errdefs.ErrLimitExceeded, errdefs.ErrUnavailable} {
			if errors.Is(err, s) {
				t.Errorf("%s matches %v", typ, s)
			}
		}
	}
}

func TestAPIErrorMessage(t *testing.T) {
	err := &APIError{Type: ResourceNotFoundException, Message: "No cluster found for name: x.", Status: 404}
	if got, want := err.Error(), "ResourceNotFoundException: No cluster found for name: x."; got != want {
		t.Fatalf("Error() = %q, want %q", got, want)
	}
}
