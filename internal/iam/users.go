package iam

import (
	"context"
	"errors"
	"fmt"

	"github.com/cellplane/cellplane/internal/account"
	"github.com/cellplane/cellplane/internal/errdefs"
)

// CreateAccount creates an account with its admin user and the user's first
// access key, whose secret is returned only here.
func (s *Store) CreateAccount(ctx context.Context, name string) (account.Account, account.AccessKey, error) {
	a, k, err := s.Accounts.CreateAccount(ctx, name)
	if err != nil {
		return account.Account{}, account.AccessKey{}, err
	}
	if _, err := s.EnsureAdmin(ctx, a.ID); err != nil {
		// The account and its key work without the record; the next
		// EnsureAdmin (every start, every read of the admin user) makes it.
		return a, k, fmt.Errorf("account %s created, its admin user not yet: %w", a.ID, err)
	}
	return a, k, nil
}

// EnsureAdmin makes the account's admin user if it does not exist yet; the
// keys of accounts made before users existed sign for it already.
func (s *Store) EnsureAdmin(ctx context.Context, accountID string) (User, error) {
	r, err := s.get(ctx, accountID, KindUser, AdminUserName)
	if err == nil {
		return r.user(), nil
	}
	if !errors.Is(err, errdefs.ErrNotFound) {
		return User{}, err
	}
	if err := s.checkAccount(ctx, accountID); err != nil {
		return User{}, err
	}
	r, err = s.create(ctx, record{Account: accountID, Kind: KindUser, Name: AdminUserName})
	if errors.Is(err, errdefs.ErrAlreadyExists) {
		// Made meanwhile by another caller: theirs is the one.
		r, err = s.get(ctx, accountID, KindUser, AdminUserName)
	}
	return r.user(), err
}

// EnsureAdmins makes the admin user of every account that lacks one; the
// region runs it as it starts, for accounts made before users existed.
func (s *Store) EnsureAdmins(ctx context.Context) error {
	accounts, err := s.Accounts.ListAccounts(ctx)
	if err != nil {
		return err
	}
	for _, a := range accounts {
		if _, err := s.EnsureAdmin(ctx, a.ID); err != nil {
			return fmt.Errorf("admin user of account %s: %w", a.ID, err)
		}
	}
	return nil
}

// CreateUser adds a user without access keys to an existing account.
func (s *Store) CreateUser(ctx context.Context, accountID, name string) (User, error) {
	if err := validateName(KindUser, name); err != nil {
		return User{}, err
	}
	if err := s.checkAccount(ctx, accountID); err != nil {
		return User{}, err
	}
	r, err := s.create(ctx, record{Account: accountID, Kind: KindUser, Name: name})
	return r.user(), err
}

// GetUser returns one user; names are matched regardless of case, as IAM's.
func (s *Store) GetUser(ctx context.Context, accountID, name string) (User, error) {
	if err := validateAccount(accountID); err != nil {
		return User{}, err
	}
	if err := validateName(KindUser, name); err != nil {
		return User{}, err
	}
	r, err := s.get(ctx, accountID, KindUser, name)
	if errors.Is(err, errdefs.ErrNotFound) && name == AdminUserName {
		return s.EnsureAdmin(ctx, accountID)
	}
	return r.user(), err
}

// ListUsers returns the account's users by name, the admin user included.
func (s *Store) ListUsers(ctx context.Context, accountID string) ([]User, error) {
	if _, err := s.EnsureAdmin(ctx, accountID); err != nil {
		return nil, err
	}
	records, err := s.list(ctx, accountID, KindUser)
	if err != nil {
		return nil, err
	}
	users := make([]User, len(records))
	for i, r := range records {
		users[i] = r.user()
	}
	return users, nil
}

// DeleteUser deletes a user that holds no access keys. It refuses while the
// user has keys, as IAM's DeleteUser does (DeleteConflict): deleting keys
// someone may still use is a decision to make key by key. The admin user is
// never deleted. Roles that trust the user stop trusting it (their entries
// name its unique ID, which a namesake created later does not have).
func (s *Store) DeleteUser(ctx context.Context, accountID, name string) error {
	u, err := s.GetUser(ctx, accountID, name)
	if err != nil {
		return err
	}
	if u.Name == AdminUserName {
		return fmt.Errorf("%w: user %s is the account's admin user; it cannot be deleted", errdefs.ErrInvalidRequest, u.Name)
	}
	keys, err := s.userKeys(ctx, u)
	if err != nil {
		return err
	}
	if len(keys) > 0 {
		return fmt.Errorf("%w: user %s still has %d access keys; delete them first ('cellplane user key delete')",
			errdefs.ErrInvalidRequest, u.Name, len(keys))
	}
	return s.remove(ctx, record{Account: accountID, Kind: KindUser, Name: u.Name})
}

// CreateAccessKey adds an access key signing for the user; at most
// account.MaxKeysPerUser each. The secret is returned only here.
func (s *Store) CreateAccessKey(ctx context.Context, accountID, user string) (account.AccessKey, error) {
	u, err := s.GetUser(ctx, accountID, user)
	if err != nil {
		return account.AccessKey{}, err
	}
	return s.Accounts.CreateAccessKeyFor(ctx, accountID, u.ARN)
}

// ListAccessKeys returns the user's keys, without secrets.
func (s *Store) ListAccessKeys(ctx context.Context, accountID, user string) ([]account.AccessKey, error) {
	u, err := s.GetUser(ctx, accountID, user)
	if err != nil {
		return nil, err
	}
	return s.userKeys(ctx, u)
}

// DeleteAccessKey deletes one of the user's keys; a key of another user is
// not found.
func (s *Store) DeleteAccessKey(ctx context.Context, accountID, user, akid string) error {
	u, err := s.GetUser(ctx, accountID, user)
	if err != nil {
		return err
	}
	k, err := s.Accounts.GetAccessKey(ctx, accountID, akid)
	if err != nil {
		return err
	}
	if k.Principal != u.ARN {
		return fmt.Errorf("access key %s of user %s: %w", akid, u.Name, errdefs.ErrNotFound)
	}
	return s.Accounts.DeleteAccessKey(ctx, accountID, akid)
}

func (s *Store) userKeys(ctx context.Context, u User) ([]account.AccessKey, error) {
	all, err := s.Accounts.ListAccessKeys(ctx, u.Account)
	if err != nil {
		return nil, err
	}
	var keys []account.AccessKey
	for _, k := range all {
		if k.Principal == u.ARN {
			keys = append(keys, k)
		}
	}
	return keys, nil
}
