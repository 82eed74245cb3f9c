package eksinput

import (
	"regexp"
	"strings"

	"github.com/cellplane/cellplane/api/v1alpha1"
	"github.com/cellplane/cellplane/internal/accesspolicy"
	"github.com/cellplane/cellplane/internal/eks"
	"github.com/cellplane/cellplane/internal/errdefs"
)

// Principal kinds an access entry may name.
const (
	PrincipalUser = "user"
	PrincipalRole = "role"
)

// Principal is an IAM user or role ARN taken apart.
type Principal struct {
	ARN     string
	Account string
	Kind    string // PrincipalUser or PrincipalRole
	Name    string // the last part of the ARN, without the path
}

// Limits on access entries, as EKS sets them.
const (
	maxGroups          = 100
	maxGroupLength     = 1024 // not published by EKS; bounds the stored object
	maxUsernameLength  = 1024
	maxScopeNamespaces = 100
)

var (
	// iamPrincipal is IAM's ARN of a user or role: an optional path, then a
	// name of letters, digits and +=,.@_- (at most 64 characters).
	iamPrincipal = regexp.MustCompile(`^arn:aws:iam::([0-9]{12}):(user|role)((?:/[\x21-\x7e]+)*/)?([\w+=,.@-]{1,64})$`)
	template     = regexp.MustCompile(`\{\{[^{}]*\}\}`)
	// scopeNamespace is a namespace name, or a prefix ending in "*" as EKS
	// allows ("dev-*").
	scopeNamespace = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$|^[a-z0-9][-a-z0-9]*\*$`)
)

// reservedPrefixes start names Kubernetes or EKS keep for themselves: EKS
// refuses user names and groups starting with them, so an entry cannot claim
// system:masters or a node's identity.
var reservedPrefixes = []string{"system:", "eks:", "aws:", "amazon:", "iam:"}

// ParsePrincipal checks an access entry's principalArn: an IAM user or role.
// STS sessions (assumed-role ARNs) and other resources are refused, as EKS
// refuses them: an entry outlives any session.
func ParsePrincipal(arn string) (Principal, error) {
	m := iamPrincipal.FindStringSubmatch(arn)
	if m == nil || strings.Contains(m[3], "//") {
		return Principal{}, errdefs.Publicf(errdefs.ErrInvalidParameter,
			"The principalArn %q is not valid: it must be the ARN of an IAM user or role (arn:aws:iam::<account>:user/<name> or arn:aws:iam::<account>:role/<name>).", arn)
	}
	return Principal{ARN: arn, Account: m[1], Kind: m[2], Name: m[4]}, nil
}

// DefaultUsername is the Kubernetes user name EKS gives an entry created
// without one: the user's ARN, or for a role the ARN of its sessions with the
// session name left as a template the authenticator fills in.
func DefaultUsername(p Principal) string {
	if p.Kind == PrincipalRole {
		return "arn:aws:sts::" + p.Account + ":assumed-role/" + p.Name + "/{{SessionName}}"
	}
	return p.ARN
}

// ValidateUsername checks a user name given for an entry of principal p. Its
// templates are {{AccountID}}, and for roles {{SessionName}} and
// {{SessionNameRaw}}, the only ones the authenticator fills in.
func ValidateUsername(username string, p Principal) error {
	switch {
	case username == "" || len(username) > maxUsernameLength:
		return errdefs.Publicf(errdefs.ErrInvalidParameter, "The username must be 1-%d characters.", maxUsernameLength)
	case reserved(username) != "":
		return errdefs.Publicf(errdefs.ErrInvalidParameter, "The username must not begin with %s", reserved(username))
	}
	for _, t := range template.FindAllString(username, -1) {
		switch t {
		case "{{AccountID}}":
		case "{{SessionName}}", "{{SessionNameRaw}}":
			if p.Kind != PrincipalRole {
				return errdefs.Publicf(errdefs.ErrInvalidParameter, "The username template %s is only valid for IAM roles.", t)
			}
		default:
			return errdefs.Publicf(errdefs.ErrInvalidParameter, "The username template %s is not supported: use {{AccountID}}, {{SessionName}} or {{SessionNameRaw}}.", t)
		}
	}
	if rest := template.ReplaceAllString(username, ""); strings.ContainsAny(rest, "{}") {
		return errdefs.Publicf(errdefs.ErrInvalidParameter, "The username %q has an unbalanced template: templates are written {{Name}}.", username)
	}
	return nil
}

// ValidateGroups checks an entry's Kubernetes groups.
func ValidateGroups(groups []string) error {
	if len(groups) > maxGroups {
		return errdefs.Publicf(errdefs.ErrInvalidParameter, "An access entry may have at most %d kubernetesGroups; got %d.", maxGroups, len(groups))
	}
	for _, g := range groups {
		switch {
		case g == "" || len(g) > maxGroupLength:
			return errdefs.Publicf(errdefs.ErrInvalidParameter, "Each kubernetesGroups name must be 1-%d characters.", maxGroupLength)
		case reserved(g) != "":
			return errdefs.Publicf(errdefs.ErrInvalidParameter, "The kubernetes group name %s is invalid, it cannot start with %s", g, reserved(g))
		}
	}
	return nil
}

func reserved(name string) string {
	for _, p := range reservedPrefixes {
		if strings.HasPrefix(name, p) {
			return p
		}
	}
	return ""
}

// EntryType checks an entry's type: STANDARD, the default, is the only one
// cellplane serves (it has no EC2 or Fargate nodes to give entries to).
func EntryType(t string) (string, error) {
	if t == "" || t == v1alpha1.AccessEntryTypeStandard {
		return v1alpha1.AccessEntryTypeStandard, nil
	}
	return "", errdefs.Publicf(errdefs.ErrInvalidParameter, "The access entry type %q is not supported: cellplane serves STANDARD access entries only.", t)
}

// Policy checks a policyArn against the catalogue.
func Policy(arn string) (accesspolicy.Policy, error) {
	p, ok := accesspolicy.Lookup(arn)
	if !ok {
		return accesspolicy.Policy{}, errdefs.Publicf(errdefs.ErrInvalidParameter,
			"The policyArn %q is not a valid access policy: list them with ListAccessPolicies.", arn)
	}
	return p, nil
}

// Scope checks an access scope: cluster takes no namespaces, namespace takes
// 1-100 namespace names (a trailing * matches a prefix).
func Scope(s *eks.AccessScope) (v1alpha1.AccessScope, error) {
	if s == nil {
		return v1alpha1.AccessScope{}, errdefs.Publicf(errdefs.ErrInvalidParameter, "The accessScope is required.")
	}
	switch s.Type {
	case v1alpha1.AccessScopeCluster:
		if len(s.Namespaces) > 0 {
			return v1alpha1.AccessScope{}, errdefs.Publicf(errdefs.ErrInvalidParameter, "Namespaces cannot be specified when the access scope type is cluster.")
		}
		return v1alpha1.AccessScope{Type: s.Type}, nil
	case v1alpha1.AccessScopeNamespace:
		return namespaceScope(s.Namespaces)
	}
	return v1alpha1.AccessScope{}, errdefs.Publicf(errdefs.ErrInvalidParameter, "The access scope type %q is not valid: use cluster or namespace.", s.Type)
}

func namespaceScope(namespaces []string) (v1alpha1.AccessScope, error) {
	if len(namespaces) == 0 || len(namespaces) > maxScopeNamespaces {
		return v1alpha1.AccessScope{}, errdefs.Publicf(errdefs.ErrInvalidParameter, "A namespace access scope needs 1-%d namespaces.", maxScopeNamespaces)
	}
	seen := map[string]bool{}
	out := make([]string, 0, len(namespaces))
	for _, ns := range namespaces {
		if len(ns) > 63 || !scopeNamespace.MatchString(ns) {
			return v1alpha1.AccessScope{}, errdefs.Publicf(errdefs.ErrInvalidParameter,
				"The namespace %q is not valid: use a Kubernetes namespace name (lowercase letters, digits and -, at most 63 characters), optionally ending in * to match a prefix.", ns)
		}
		if !seen[ns] {
			seen[ns] = true
			out = append(out, ns)
		}
	}
	return v1alpha1.AccessScope{Type: v1alpha1.AccessScopeNamespace, Namespaces: out}, nil
}

// modeRank orders the authentication modes: a cluster moves only up.
var modeRank = map[string]int{
	v1alpha1.AuthenticationModeConfigMap:       0,
	v1alpha1.AuthenticationModeAPIAndConfigMap: 1,
	v1alpha1.AuthenticationModeAPI:             2,
}

// AuthenticationMode checks a mode; "" is def.
func AuthenticationMode(mode, def string) (string, error) {
	if mode == "" {
		return def, nil
	}
	if _, ok := modeRank[mode]; !ok {
		return "", errdefs.Publicf(errdefs.ErrInvalidParameter, "The authenticationMode %q is not valid: use API, API_AND_CONFIG_MAP or CONFIG_MAP.", mode)
	}
	return mode, nil
}

// ModeChange checks a change of authentication mode: one way only, CONFIG_MAP
// to API_AND_CONFIG_MAP to API, as EKS allows.
func ModeChange(from, to string) error {
	if modeRank[to] <= modeRank[from] {
		return errdefs.Publicf(errdefs.ErrInvalidParameter, "Unsupported authentication mode update from %s to %s: the mode can only move from CONFIG_MAP to API_AND_CONFIG_MAP to API.", from, to)
	}
	return nil
}
