package operator

import (
	"context"

	"github.com/cellplane/cellplane/internal/account"
	"github.com/cellplane/cellplane/internal/iam"
)

// Principals manages the users and roles of the accounts on a data
// directory; `cellplane user` and `cellplane role` are layers over it.
type Principals struct {
	store    *iam.Store
	accounts *Accounts
}

// Principals connects to the region's store and loads the master key that
// seals users' secret keys.
func (c *Client) Principals() (*Principals, error) {
	a, err := c.Accounts()
	if err != nil {
		return nil, err
	}
	return &Principals{store: a.iam, accounts: a}, nil
}

// CreateUser adds a user without keys to the account.
func (p *Principals) CreateUser(ctx context.Context, accountID, name string) (iam.User, error) {
	return p.store.CreateUser(ctx, accountID, name)
}

// ListUsers returns the account's users, the admin user included.
func (p *Principals) ListUsers(ctx context.Context, accountID string) ([]iam.User, error) {
	return p.store.ListUsers(ctx, accountID)
}

// DeleteUser deletes a user that holds no keys.
func (p *Principals) DeleteUser(ctx context.Context, accountID, name string) error {
	return p.store.DeleteUser(ctx, accountID, name)
}

// CreateKey adds an access key of the user; its secret is returned only here.
func (p *Principals) CreateKey(ctx context.Context, accountID, user string) (account.AccessKey, error) {
	return p.store.CreateAccessKey(ctx, accountID, user)
}

// ListKeys returns the user's keys, without secrets.
func (p *Principals) ListKeys(ctx context.Context, accountID, user string) ([]account.AccessKey, error) {
	return p.store.ListAccessKeys(ctx, accountID, user)
}

// DeleteKey deletes one of the user's keys, never the one this data
// directory's AWS profile signs with.
func (p *Principals) DeleteKey(ctx context.Context, accountID, user, akid string) error {
	if err := p.accounts.refuseProfileKey(accountID, akid, "delete"); err != nil {
		return err
	}
	return p.store.DeleteAccessKey(ctx, accountID, user, akid)
}

// CreateRole adds a role that the principals of trust may assume.
func (p *Principals) CreateRole(ctx context.Context, accountID, name string, trust []string) (iam.Role, error) {
	return p.store.CreateRole(ctx, accountID, name, trust)
}

// ListRoles returns the account's roles.
func (p *Principals) ListRoles(ctx context.Context, accountID string) ([]iam.Role, error) {
	return p.store.ListRoles(ctx, accountID)
}

// DeleteRole deletes a role.
func (p *Principals) DeleteRole(ctx context.Context, accountID, name string) error {
	return p.store.DeleteRole(ctx, accountID, name)
}

// SetTrust replaces the role's trust list.
func (p *Principals) SetTrust(ctx context.Context, accountID, name string, trust []string) (iam.Role, error) {
	return p.store.SetTrust(ctx, accountID, name, trust)
}
