package api

import (
	"context"

	"github.com/cellplane/cellplane/internal/account"
	"github.com/cellplane/cellplane/internal/eksinput"
	"github.com/cellplane/cellplane/internal/iam"
	"github.com/cellplane/cellplane/internal/sigv4"
)

// Principals tells the access-entry operations whether an IAM user or role
// exists. The regional API asks it before storing an entry, so an entry never
// names a principal nobody can sign in as.
type Principals interface {
	Exists(ctx context.Context, arn string) (bool, error)
}

// wellFormedPrincipals is what a regional API composed without an IAM store
// (unit tests of other handlers) knows: the account's admin user exists, and
// so does every well-formed user or role ARN (the handler has already
// checked that it is of the caller's account). The region composes the API
// with the IAM store (internal/iam), which knows.
type wellFormedPrincipals struct{}

func (wellFormedPrincipals) Exists(_ context.Context, arn string) (bool, error) {
	p, err := eksinput.ParsePrincipal(arn)
	if err != nil {
		return false, nil
	}
	return arn == account.AdminUserARN(p.Account) || p.Name != "", nil
}

// creatorOf is the principal a CreateCluster request acts as, who gets the
// bootstrap cluster-admin entry: the signer, or, for an assumed role, the
// role (an entry names a role, never one of its sessions). Unsigned requests
// (unit tests only) act as the account's admin user.
func creatorOf(ctx context.Context, accountID string) string {
	p, ok := sigv4.PrincipalFrom(ctx)
	if !ok {
		return account.AdminUserARN(accountID)
	}
	if role, ok := iam.RoleOfSession(p); ok {
		return role
	}
	return p
}
