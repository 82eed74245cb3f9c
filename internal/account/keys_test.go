package account

import (
	"context"
	"errors"
	"testing"

	"github.com/cellplane/cellplane/internal/errdefs"
	"github.com/cellplane/cellplane/internal/sigv4"
)

func TestAccessKeyLifecycle(t *testing.T) {
	ctx := context.Background()
	s, _ := newStore(t)
	a, first, err := s.CreateAccount(ctx, "team-a")
	if err != nil {
		t.Fatal(err)
	}
	b, other, err := s.CreateAccount(ctx, "team-b")
	if err != nil {
		t.Fatal(err)
	}
	second, err := s.CreateAccessKey(ctx, a.ID)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.CreateAccessKey(ctx, a.ID); !errors.Is(err, errdefs.ErrLimitExceeded) {
		t.Fatalf("third key: %v; want ErrLimitExceeded", err)
	}
	keys, err := s.ListAccessKeys(ctx, a.ID)
	if err != nil || len(keys) != 2 || keys[0].SecretAccessKey != "" || keys[0].Status != KeyActive {
		t.Fatalf("ListAccessKeys = %+v, %v; want 2 active keys without secrets", keys, err)
	}

	if _, err := s.SetAccessKeyStatus(ctx, a.ID, first.AccessKeyID, KeyInactive); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Lookup(ctx, first.AccessKeyID); !errors.Is(err, sigv4.ErrUnknownKey) {
		t.Fatalf("Lookup of an inactive key = %v; want ErrUnknownKey", err)
	}
	if _, err := s.Lookup(ctx, second.AccessKeyID); err != nil {
		t.Fatalf("the other key stops working: %v", err)
	}
	if _, err := s.SetAccessKeyStatus(ctx, a.ID, first.AccessKeyID, KeyActive); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Lookup(ctx, first.AccessKeyID); err != nil {
		t.Fatalf("Lookup of a re-activated key: %v", err)
	}

	// Another account's key, malformed IDs and statuses change nothing.
	bad := []struct {
		name string
		call func() error
		want error
	}{
		{"other account's key", func() error { _, err := s.SetAccessKeyStatus(ctx, a.ID, other.AccessKeyID, KeyInactive); return err }, errdefs.ErrNotFound},
		{"delete other account's key", func() error { return s.DeleteAccessKey(ctx, a.ID, other.AccessKeyID) }, errdefs.ErrNotFound},
		{"malformed key", func() error { _, err := s.SetAccessKeyStatus(ctx, a.ID, "AKIA123", KeyInactive); return err }, errdefs.ErrInvalidParameter},
		{"malformed account", func() error { return s.DeleteAccessKey(ctx, "12", first.AccessKeyID) }, errdefs.ErrInvalidParameter},
		{"bad status", func() error { _, err := s.SetAccessKeyStatus(ctx, a.ID, first.AccessKeyID, "Paused"); return err }, errdefs.ErrInvalidParameter},
		{"unknown account", func() error { _, err := s.CreateAccessKey(ctx, "123123123123"); return err }, errdefs.ErrNotFound},
	}
	for _, tc := range bad {
		if err := tc.call(); !errors.Is(err, tc.want) {
			t.Errorf("%s: %v; want %v", tc.name, err, tc.want)
		}
	}
	if k, err := s.GetAccessKey(ctx, b.ID, other.AccessKeyID); err != nil || k.Status != KeyActive {
		t.Fatalf("the other account's key changed: %+v, %v", k, err)
	}

	if err := s.DeleteAccessKey(ctx, a.ID, first.AccessKeyID); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Lookup(ctx, first.AccessKeyID); !errors.Is(err, sigv4.ErrUnknownKey) {
		t.Fatalf("Lookup of a deleted key = %v", err)
	}
	if keys, _ := s.ListAccessKeys(ctx, a.ID); len(keys) != 1 || keys[0].AccessKeyID != second.AccessKeyID {
		t.Fatalf("keys after delete = %+v", keys)
	}
}

// A key whose account is gone acts for nobody.
func TestLookupRefusesKeyWithoutAccount(t *testing.T) {
	ctx := context.Background()
	s, _ := newStore(t)
	a, k, err := s.CreateAccount(ctx, "gone")
	if err != nil {
		t.Fatal(err)
	}
	if err := s.delete(ctx, accountName(a.ID)); err != nil { // the account only, as a crash could leave it
		t.Fatal(err)
	}
	if _, err := s.Lookup(ctx, k.AccessKeyID); !errors.Is(err, sigv4.ErrUnknownKey) {
		t.Fatalf("Lookup = %v; want ErrUnknownKey", err)
	}
}
