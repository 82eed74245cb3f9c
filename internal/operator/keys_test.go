package operator

import (
	"context"
	"errors"
	"testing"

	"github.com/cellplane/cellplane/api/v1alpha1"
	"github.com/cellplane/cellplane/internal/account"
	"github.com/cellplane/cellplane/internal/datadir"
	"github.com/cellplane/cellplane/internal/errdefs"
	"github.com/cellplane/cellplane/internal/sigv4"
)

// The first account's profile key is rotated, never deactivated or deleted,
// and rotating it rewrites the profile; bad input changes nothing.
func TestFirstAccountKeyRotation(t *testing.T) {
	ctx := context.Background()
	c := testClient(t)
	a, err := c.Accounts()
	if err != nil {
		t.Fatal(err)
	}
	_, first, err := a.store.EnsureAccount(ctx, v1alpha1.DefaultAccount, "default")
	if err != nil || first == nil {
		t.Fatalf("EnsureAccount: %v", err)
	}
	t.Cleanup(func() {
		if err := a.store.DeleteAccount(context.Background(), v1alpha1.DefaultAccount); err != nil {
			t.Errorf("cleanup: %v", err)
		}
	})
	if err := datadir.WriteAWSCredentials(c.DataDir(), first.AccessKeyID, first.SecretAccessKey); err != nil {
		t.Fatal(err)
	}

	for _, verb := range []func() error{
		func() error {
			_, err := a.SetKeyStatus(ctx, v1alpha1.DefaultAccount, first.AccessKeyID, account.KeyInactive)
			return err
		},
		func() error { return a.DeleteKey(ctx, v1alpha1.DefaultAccount, first.AccessKeyID) },
	} {
		if err := verb(); !errors.Is(err, errdefs.ErrInvalidRequest) {
			t.Fatalf("taking away the profile key: %v; want ErrInvalidRequest", err)
		}
	}
	for _, bad := range []struct{ acct, key string }{
		{"12", first.AccessKeyID}, {v1alpha1.DefaultAccount, "nope"}, {"123412341234", first.AccessKeyID},
		{v1alpha1.DefaultAccount, "CPAKAAAAAAAAAAAAAAAA"},
	} {
		if _, err := a.RotateKey(ctx, bad.acct, bad.key); err == nil {
			t.Fatalf("RotateKey(%s, %s) succeeded", bad.acct, bad.key)
		}
	}
	if keys, _ := a.ListKeys(ctx, v1alpha1.DefaultAccount); len(keys) != 1 || keys[0].Status != account.KeyActive {
		t.Fatalf("bad input changed the keys: %+v", keys)
	}

	rot, err := a.RotateKey(ctx, v1alpha1.DefaultAccount, first.AccessKeyID)
	if err != nil {
		t.Fatalf("RotateKey: %v", err)
	}
	if !rot.ProfileUpdated || rot.Old.Status != account.KeyInactive || rot.New.SecretAccessKey == "" {
		t.Fatalf("rotation = %+v", rot)
	}
	if inProfile, _ := datadir.ProfileAccessKeyID(c.DataDir()); inProfile != rot.New.AccessKeyID {
		t.Fatalf("profile holds %s; want the new key %s", inProfile, rot.New.AccessKeyID)
	}
	if _, err := a.store.Lookup(ctx, first.AccessKeyID); !errors.Is(err, sigv4.ErrUnknownKey) {
		t.Fatalf("old key after rotation: %v", err)
	}
	// Two keys now: a second rotation must wait until the old one is deleted.
	if _, err := a.RotateKey(ctx, v1alpha1.DefaultAccount, rot.New.AccessKeyID); !errors.Is(err, errdefs.ErrLimitExceeded) {
		t.Fatalf("rotation over the key limit: %v", err)
	}
	if err := a.DeleteKey(ctx, v1alpha1.DefaultAccount, first.AccessKeyID); err != nil {
		t.Fatal(err)
	}
	if keys, _ := a.ListKeys(ctx, v1alpha1.DefaultAccount); len(keys) != 1 || keys[0].AccessKeyID != rot.New.AccessKeyID {
		t.Fatalf("keys = %+v", keys)
	}
}
