package api

import (
	"errors"
	"fmt"
	"net/http"
	"testing"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/cellplane/cellplane/internal/components"
	"github.com/cellplane/cellplane/internal/eks"
	"github.com/cellplane/cellplane/internal/errdefs"
)

// apiStatus returns a store error with an HTTP status, as the apiserver sends.
func apiStatus(code int32) error {
	return apierrors.FromObject(&metav1.Status{Status: metav1.StatusFailure, Code: code, Reason: reasons[code]})
}

var reasons = map[int32]metav1.StatusReason{
	http.StatusTooManyRequests: metav1.StatusReasonTooManyRequests,
	http.StatusConflict:        metav1.StatusReasonConflict,
}

func TestClassify(t *testing.T) {
	gr := schema.GroupResource{Group: "cellplane.io", Resource: "clusters"}
	for _, tc := range []struct {
		err    error
		status int
		typ    string
	}{
		{fmt.Errorf("x: %w", errdefs.ErrNotFound), 404, eks.ResourceNotFoundException},
		{apierrors.NewNotFound(gr, "x"), 404, eks.ResourceNotFoundException},
		{fmt.Errorf("x: %w", errdefs.ErrAlreadyExists), 409, eks.ResourceInUseException},
		{apierrors.NewAlreadyExists(gr, "x"), 409, eks.ResourceInUseException},
		{apierrors.NewConflict(gr, "x", errors.New("changed")), 409, eks.ResourceInUseException},
		{fmt.Errorf("x: %w", errdefs.ErrInvalidParameter), 400, eks.InvalidParameterException},
		{fmt.Errorf("x: %w", components.ErrUnknownVersion), 400, eks.InvalidParameterException},
		{fmt.Errorf("x: %w", errdefs.ErrInvalidRequest), 400, eks.InvalidRequestException},
		{fmt.Errorf("x: %w", errdefs.ErrLimitExceeded), 400, eks.ResourceLimitExceededException},
		{fmt.Errorf("x: %w", errdefs.ErrUnavailable), 503, eks.ServiceUnavailableException},
		{apierrors.NewServiceUnavailable("down"), 503, eks.ServiceUnavailableException},
		{apierrors.NewTimeoutError("slow", 1), 503, eks.ServiceUnavailableException},
		{apierrors.NewTooManyRequests("busy", 1), 503, eks.ServiceUnavailableException},
		{apierrors.NewForbidden(gr, "x", errors.New("no")), 500, eks.ServerException},
		{errors.New("boom"), 500, eks.ServerException},
	} {
		got := classify(tc.err)
		if got.status != tc.status || got.typ != tc.typ {
			t.Errorf("classify(%v) = %d %s, want %d %s", tc.err, got.status, got.typ, tc.status, tc.typ)
		}
	}
}

// The client maps types back to sentinels; both directions must agree.
func TestErrorTableRoundTrips(t *testing.T) {
	for _, s := range []error{errdefs.ErrNotFound, errdefs.ErrAlreadyExists, errdefs.ErrInvalidParameter,
		errdefs.ErrInvalidRequest, errdefs.ErrLimitExceeded, errdefs.ErrUnavailable} {
		wire := classify(s)
		back := &eks.APIError{Type: wire.typ, Status: wire.status}
		if !errors.Is(back, s) {
			t.Errorf("%v travels as %s, which the client does not map back", s, wire.typ)
		}
		if http.StatusText(wire.status) == "" {
			t.Errorf("%v has no valid status", s)
		}
	}
}

func TestNewHandlerValidates(t *testing.T) {
	if _, err := NewHandler(Config{Placer: StaticPlacer{Cell: "c"}}); err == nil {
		t.Error("a handler without a store client was built")
	}
	h := newHarness(t)
	if _, err := NewHandler(Config{Client: h.store}); err == nil {
		t.Error("a handler without a placer was built")
	}
}
