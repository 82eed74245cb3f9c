package iam

import (
	"crypto/rand"
	"encoding/base32"
	"fmt"
	"regexp"
	"strings"

	"github.com/cellplane/cellplane/internal/errdefs"
)

// Kind is what a principal is.
type Kind string

const (
	// KindUser is an IAM user: it signs with access keys of its own.
	KindUser Kind = "user"
	// KindRole is an IAM role: it signs only with temporary credentials of
	// principals that assumed it.
	KindRole Kind = "role"
)

// Unique IDs, the UserId of GetCallerIdentity, which a principal of the same
// name created again does not share: trust lists hold them, so deleting a
// user and creating another of its name does not hand the second the first's
// roles (as IAM does).
const (
	userIDPrefix = "CPUI"
	roleIDPrefix = "CPRI"
)

var (
	// namePattern is IAM's user and role name syntax.
	namePattern  = regexp.MustCompile(`^[\w+=,.@-]{1,64}$`)
	arnPattern   = regexp.MustCompile(`^arn:aws:iam::([0-9]{12}):(user|role)/([\w+=,.@-]{1,64})$`)
	idEncoding   = base32.StdEncoding.WithPadding(base32.NoPadding)
	accountRegex = regexp.MustCompile(`^[0-9]{12}$`)
)

// ARN is the ARN of the account's principal of kind and name.
func ARN(accountID string, kind Kind, name string) string {
	return "arn:aws:iam::" + accountID + ":" + string(kind) + "/" + name
}

// Principal is a parsed principal ARN.
type Principal struct {
	Account string
	Kind    Kind
	Name    string
}

// ARN is the principal's ARN.
func (p Principal) ARN() string { return ARN(p.Account, p.Kind, p.Name) }

// ParseARN parses a user or role ARN; paths (user/team/name) are not
// supported, as cellplane's principals have none.
func ParseARN(arn string) (Principal, error) {
	m := arnPattern.FindStringSubmatch(arn)
	if m == nil {
		return Principal{}, fmt.Errorf("%w: %q is not a principal ARN (arn:aws:iam::<account>:user/<name> or arn:aws:iam::<account>:role/<name>)",
			errdefs.ErrInvalidParameter, arn)
	}
	return Principal{Account: m[1], Kind: Kind(m[2]), Name: m[3]}, nil
}

// RoleOfSession is the role ARN of an assumed-role ARN
// (arn:aws:sts::<account>:assumed-role/<role>/<session>); ok is false for
// anything else.
func RoleOfSession(arn string) (string, bool) {
	rest, ok := strings.CutPrefix(arn, "arn:aws:sts::")
	if !ok {
		return "", false
	}
	account, rest, ok := strings.Cut(rest, ":assumed-role/")
	if !ok || !accountRegex.MatchString(account) {
		return "", false
	}
	role, _, ok := strings.Cut(rest, "/")
	if !ok || !namePattern.MatchString(role) {
		return "", false
	}
	return ARN(account, KindRole, role), true
}

func validateName(kind Kind, name string) error {
	if !namePattern.MatchString(name) {
		return fmt.Errorf("%w: %s name %q must be 1-64 letters, digits or characters of +=,.@_-", errdefs.ErrInvalidParameter, kind, name)
	}
	return nil
}

func validateAccount(id string) error {
	if !accountRegex.MatchString(id) {
		return fmt.Errorf("%w: account ID %q must be 12 digits", errdefs.ErrInvalidParameter, id)
	}
	return nil
}

func newID(kind Kind) (string, error) {
	b := make([]byte, 10)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("generating a %s ID: %w", kind, err)
	}
	prefix := userIDPrefix
	if kind == KindRole {
		prefix = roleIDPrefix
	}
	return prefix + idEncoding.EncodeToString(b), nil
}
