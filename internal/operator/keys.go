package operator

import (
	"context"
	"errors"
	"fmt"

	"github.com/cellplane/cellplane/api/v1alpha1"
	"github.com/cellplane/cellplane/internal/account"
	"github.com/cellplane/cellplane/internal/datadir"
	"github.com/cellplane/cellplane/internal/errdefs"
)

// Access keys of an account: create, list, activate, deactivate, delete and
// rotate. The first account's key that this data directory's AWS profile
// holds is what the cluster commands sign with: it cannot be deactivated or
// deleted, only rotated, which writes the new key into the profile.

// CreateKey adds an access key to the account; its secret is returned only here.
func (a *Accounts) CreateKey(ctx context.Context, accountID string) (account.AccessKey, error) {
	return a.store.CreateAccessKey(ctx, accountID)
}

// ListKeys returns the account's keys, without secrets.
func (a *Accounts) ListKeys(ctx context.Context, accountID string) ([]account.AccessKey, error) {
	if _, err := a.store.GetAccount(ctx, accountID); err != nil {
		return nil, err
	}
	return a.store.ListAccessKeys(ctx, accountID)
}

// SetKeyStatus activates or deactivates a key. A deactivated key is refused
// by the regional API as soon as its watch of the keys sees the change
// (milliseconds), and no cache keeps it alive.
func (a *Accounts) SetKeyStatus(ctx context.Context, accountID, akid string, status account.KeyStatus) (account.AccessKey, error) {
	if status == account.KeyInactive {
		if err := a.refuseProfileKey(accountID, akid, "deactivate"); err != nil {
			return account.AccessKey{}, err
		}
	}
	return a.store.SetAccessKeyStatus(ctx, accountID, akid, status)
}

// DeleteKey deletes a key for good.
func (a *Accounts) DeleteKey(ctx context.Context, accountID, akid string) error {
	if err := a.refuseProfileKey(accountID, akid, "delete"); err != nil {
		return err
	}
	return a.store.DeleteAccessKey(ctx, accountID, akid)
}

// Rotation is what RotateKey did: the new key, with its secret, and whether
// the profile was rewritten.
type Rotation struct {
	New            account.AccessKey `json:"newAccessKey"`
	Old            account.AccessKey `json:"oldAccessKey"`
	ProfileUpdated bool              `json:"profileUpdated"`
}

// ErrRotationIncomplete: the new key exists but the old one is still active.
var ErrRotationIncomplete = errors.New("rotation incomplete")

// RotateKey replaces an active key: it creates a new key, writes it into the
// data directory's AWS profile when the old key is the profile's, and only
// then deactivates the old key. The steps are separate writes, ordered so
// that an interruption never leaves the account without a working key: if a
// later step fails, the returned Rotation still holds the new key (its
// secret is shown only now) and the error wraps ErrRotationIncomplete,
// saying the old key is still active. Delete the old key once nothing uses
// it any more.
func (a *Accounts) RotateKey(ctx context.Context, accountID, akid string) (Rotation, error) {
	old, err := a.store.GetAccessKey(ctx, accountID, akid)
	if err != nil {
		return Rotation{}, err
	}
	if old.Status != account.KeyActive {
		return Rotation{}, fmt.Errorf("%w: access key %s is %s already; create a key instead of rotating it", errdefs.ErrInvalidRequest, akid, old.Status)
	}
	profile, err := a.isProfileKey(accountID, akid)
	if err != nil {
		return Rotation{}, err
	}
	fresh, err := a.store.CreateAccessKeyFor(ctx, accountID, old.Principal)
	if err != nil {
		return Rotation{}, fmt.Errorf("rotating access key %s: %w", akid, err)
	}
	rot := Rotation{New: fresh, Old: old}
	if profile {
		if err := datadir.WriteAWSCredentials(a.dataDir, fresh.AccessKeyID, fresh.SecretAccessKey); err != nil {
			return rot, fmt.Errorf("%w: new key %s created, old key %s still active and still in the profile: %w", ErrRotationIncomplete, fresh.AccessKeyID, akid, err)
		}
		rot.ProfileUpdated = true
	}
	if rot.Old, err = a.store.SetAccessKeyStatus(ctx, accountID, akid, account.KeyInactive); err != nil {
		return rot, fmt.Errorf("%w: new key %s created, old key %s still active: %w", ErrRotationIncomplete, fresh.AccessKeyID, akid, err)
	}
	return rot, nil
}

// refuseProfileKey refuses to take away the key the CLI itself signs with.
func (a *Accounts) refuseProfileKey(accountID, akid, verb string) error {
	profile, err := a.isProfileKey(accountID, akid)
	if err != nil {
		return err
	}
	if profile {
		return fmt.Errorf("%w: access key %s is the one this data directory's AWS profile (%s) signs with; rotate it instead of trying to %s it",
			errdefs.ErrInvalidRequest, akid, datadir.AWSCredentialsFile(a.dataDir), verb)
	}
	return nil
}

func (a *Accounts) isProfileKey(accountID, akid string) (bool, error) {
	if accountID != v1alpha1.DefaultAccount {
		return false, nil
	}
	inProfile, err := datadir.ProfileAccessKeyID(a.dataDir)
	if err != nil {
		return false, err
	}
	return inProfile == akid, nil
}
