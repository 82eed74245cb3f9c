package errdefs

import (
	"errors"
	"fmt"
	"testing"
)

func TestPublicMessageWinsOverWrapping(t *testing.T) {
	err := fmt.Errorf("creating cluster x: %w", Publicf(ErrInvalidParameter, "Bad %s.", "thing"))
	var pub *PublicError
	if !errors.As(err, &pub) || pub.Msg != "Bad thing." || !errors.Is(err, ErrInvalidParameter) {
		t.Fatal("a wrapped public error lost its message or its kind")
	}
	if errors.Is(err, ErrNotFound) {
		t.Fatal("a public error matched a sentinel other than its kind")
	}
}
