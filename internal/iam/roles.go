package iam

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/cellplane/cellplane/internal/errdefs"
)

// CreateRole adds a role that the principals of trust (user or role ARNs of
// the same account, which must exist) may assume.
func (s *Store) CreateRole(ctx context.Context, accountID, name string, trust []string) (Role, error) {
	if err := validateName(KindRole, name); err != nil {
		return Role{}, err
	}
	if err := s.checkAccount(ctx, accountID); err != nil {
		return Role{}, err
	}
	entries, err := s.resolveTrust(ctx, accountID, trust)
	if err != nil {
		return Role{}, err
	}
	r, err := s.create(ctx, record{Account: accountID, Kind: KindRole, Name: name, Trust: entries})
	if err != nil {
		return Role{}, err
	}
	return s.withCurrent(ctx, r.role())
}

// GetRole returns one role with its trust list.
func (s *Store) GetRole(ctx context.Context, accountID, name string) (Role, error) {
	r, err := s.getRole(ctx, accountID, name)
	if err != nil {
		return Role{}, err
	}
	return s.withCurrent(ctx, r.role())
}

// ListRoles returns the account's roles by name.
func (s *Store) ListRoles(ctx context.Context, accountID string) ([]Role, error) {
	if err := validateAccount(accountID); err != nil {
		return nil, err
	}
	records, err := s.list(ctx, accountID, KindRole)
	if err != nil {
		return nil, err
	}
	roles := make([]Role, len(records))
	for i, r := range records {
		if roles[i], err = s.withCurrent(ctx, r.role()); err != nil {
			return nil, err
		}
	}
	return roles, nil
}

// DeleteRole deletes a role. Temporary credentials issued for it keep
// working until they expire, as nothing but their token holds them; trust
// entries naming it stop matching at once.
func (s *Store) DeleteRole(ctx context.Context, accountID, name string) error {
	r, err := s.getRole(ctx, accountID, name)
	if err != nil {
		return err
	}
	return s.remove(ctx, r)
}

// SetTrust replaces the role's trust list.
func (s *Store) SetTrust(ctx context.Context, accountID, name string, trust []string) (Role, error) {
	r, err := s.getRole(ctx, accountID, name)
	if err != nil {
		return Role{}, err
	}
	if r.Trust, err = s.resolveTrust(ctx, accountID, trust); err != nil {
		return Role{}, err
	}
	cm, err := r.configMap()
	if err != nil {
		return Role{}, err
	}
	if err := s.Client.Update(ctx, cm); err != nil {
		return Role{}, fmt.Errorf("updating the trust list of role %s: %w", r.Name, err)
	}
	return s.withCurrent(ctx, r.role())
}

// Assumable returns the role that roleARN names if caller, the ARN a request
// was verified for, may assume it: a user of the role's account, or a
// session of a role of that account (role chaining), that the role's trust
// list names by its current unique ID. Anything else wraps ErrAccessDenied;
// a malformed role ARN wraps errdefs.ErrInvalidParameter.
func (s *Store) Assumable(ctx context.Context, roleARN, caller string) (Role, error) {
	target, err := ParseARN(roleARN)
	if err != nil {
		return Role{}, err
	}
	if target.Kind != KindRole {
		return Role{}, fmt.Errorf("%w: %s is not a role ARN", errdefs.ErrInvalidParameter, roleARN)
	}
	denied := fmt.Errorf("%w: %s is not authorized to perform sts:AssumeRole on resource %s", ErrAccessDenied, caller, roleARN)
	callerARN := caller
	if role, ok := RoleOfSession(caller); ok {
		callerARN = role
	}
	who, err := ParseARN(callerARN)
	if err != nil || who.Account != target.Account {
		return Role{}, denied
	}
	role, err := s.get(ctx, target.Account, KindRole, target.Name)
	if errors.Is(err, errdefs.ErrNotFound) {
		return Role{}, denied
	}
	if err != nil {
		return Role{}, err
	}
	id, err := s.currentID(ctx, who)
	if errors.Is(err, errdefs.ErrNotFound) {
		return Role{}, denied
	}
	if err != nil {
		return Role{}, err
	}
	for _, t := range role.Trust {
		if t.ID == id && strings.EqualFold(t.ARN, callerARN) {
			return role.role(), nil
		}
	}
	return Role{}, denied
}

func (s *Store) getRole(ctx context.Context, accountID, name string) (record, error) {
	if err := validateAccount(accountID); err != nil {
		return record{}, err
	}
	if err := validateName(KindRole, name); err != nil {
		return record{}, err
	}
	return s.get(ctx, accountID, KindRole, name)
}

// resolveTrust validates a trust list and pins each principal's unique ID.
func (s *Store) resolveTrust(ctx context.Context, accountID string, arns []string) ([]TrustedPrincipal, error) {
	if len(arns) > MaxTrustedPrincipals {
		return nil, fmt.Errorf("%w: a role trusts at most %d principals, not %d", errdefs.ErrLimitExceeded, MaxTrustedPrincipals, len(arns))
	}
	parsed := make([]Principal, 0, len(arns))
	for _, a := range arns {
		p, err := ParseARN(a)
		if err != nil {
			return nil, err
		}
		if p.Account != accountID {
			return nil, fmt.Errorf("%w: %s is not a principal of account %s; a role trusts only its own account's principals",
				errdefs.ErrInvalidParameter, a, accountID)
		}
		parsed = append(parsed, p)
	}
	entries := []TrustedPrincipal{}
	seen := map[string]bool{}
	for _, p := range parsed {
		r, err := s.lookup(ctx, p)
		if errors.Is(err, errdefs.ErrNotFound) {
			return nil, fmt.Errorf("%w: trusted principal %s does not exist", errdefs.ErrInvalidParameter, p.ARN())
		}
		if err != nil {
			return nil, err
		}
		arn := ARN(accountID, p.Kind, r.Name)
		if !seen[strings.ToLower(arn)] {
			seen[strings.ToLower(arn)] = true
			entries = append(entries, TrustedPrincipal{ARN: arn, ID: r.ID})
		}
	}
	return entries, nil
}

// currentID is the unique ID of the principal p names now.
func (s *Store) currentID(ctx context.Context, p Principal) (string, error) {
	r, err := s.lookup(ctx, p)
	return r.ID, err
}

// lookup reads the principal p names; the admin user is made if missing.
func (s *Store) lookup(ctx context.Context, p Principal) (record, error) {
	if p.Kind == KindRole {
		return s.get(ctx, p.Account, KindRole, p.Name)
	}
	u, err := s.GetUser(ctx, p.Account, p.Name)
	return record{Account: u.Account, Kind: KindUser, Name: u.Name, ID: u.UserID, CreatedAt: u.CreatedAt}, err
}

// withCurrent marks the trust entries whose principal still exists with the
// ID the entry pinned.
func (s *Store) withCurrent(ctx context.Context, role Role) (Role, error) {
	for i, t := range role.Trust {
		p, err := ParseARN(t.ARN)
		if err != nil {
			continue
		}
		id, err := s.currentID(ctx, p)
		if err != nil && !errors.Is(err, errdefs.ErrNotFound) {
			return Role{}, err
		}
		role.Trust[i].Current = err == nil && id == t.ID
	}
	return role, nil
}
