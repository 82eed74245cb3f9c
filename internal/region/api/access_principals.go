package api

import (
	"context"

	"github.com/cellplane/cellplane/internal/account"
	"github.com/cellplane/cellplane/internal/eksinput"
)

// Principals tells the access-entry operations whether an IAM user or role
// exists. The regional API asks it before storing an entry, so an entry never
// names a principal nobody can sign in as.
type Principals interface {
	Exists(ctx context.Context, arn string) (bool, error)
}

// wellFormedPrincipals stands in for the IAM store until it exists: the
// account's admin user exists, and so does every well-formed user or role
// ARN (the handler has already checked that it is of the caller's account).
//
// TODO(lead): swap in the internal/iam store (Config.Principals) once IAM
// users and roles land, so that entries for principals that do not exist are
// refused.
type wellFormedPrincipals struct{}

func (wellFormedPrincipals) Exists(_ context.Context, arn string) (bool, error) {
	p, err := eksinput.ParsePrincipal(arn)
	if err != nil {
		return false, nil
	}
	return arn == account.AdminUserARN(p.Account) || p.Name != "", nil
}

// creatorOf is the principal a CreateCluster request acts as, who gets the
// bootstrap cluster-admin entry.
//
// TODO(lead): use sigv4.PrincipalFrom(ctx) once requests carry their
// principal; every access key signs for the account's admin user until then.
func creatorOf(_ context.Context, accountID string) string {
	return account.AdminUserARN(accountID)
}
