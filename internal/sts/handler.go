package sts

import (
	"context"
	"encoding/xml"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/cellplane/cellplane/internal/errdefs"
	"github.com/cellplane/cellplane/internal/iam"
	"github.com/cellplane/cellplane/internal/sessiontoken"
	"github.com/cellplane/cellplane/internal/sigv4"
)

// Bounds of AssumeRole's DurationSeconds, as STS's; chained roles (a session
// assuming a role) get at most an hour, as STS limits role chaining.
const (
	MinDuration     = 15 * time.Minute
	MaxDuration     = 12 * time.Hour
	DefaultDuration = time.Hour
	MaxChained      = time.Hour
)

var sessionNamePattern = regexp.MustCompile(`^[\w+=,.@-]{2,64}$`)

// Principals is what the handler asks internal/iam.
type Principals interface {
	Assumable(ctx context.Context, roleARN, caller string) (iam.Role, error)
	GetUser(ctx context.Context, accountID, name string) (iam.User, error)
	GetRole(ctx context.Context, accountID, name string) (iam.Role, error)
}

// Handler serves STS for the principal a request is signed by. Put it
// behind the SigV4 guard with a verifier for SigningName whose Sessions is
// Sealer, so temporary credentials can call it too.
type Handler struct {
	Principals Principals
	Sealer     *sessiontoken.Sealer
	Logger     *slog.Logger
	Now        func() time.Time
}

type operation func(h *Handler, r *http.Request, form url.Values, caller identity) (any, error)

var operations = map[string]operation{
	"GetCallerIdentity": (*Handler).getCallerIdentity,
	"AssumeRole":        (*Handler).assumeRole,
}

// identity is who signed the request.
type identity struct{ account, arn string }

func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	refuse := WriteError(h.Logger)
	form, err := parseForm(r)
	if err != nil {
		refuse(w, r, err)
		return
	}
	action := form.Get("Action")
	op, ok := operations[action]
	switch {
	case action == "":
		refuse(w, r, fmt.Errorf("%w: the request names no Action", errMissingAction))
		return
	case !ok:
		refuse(w, r, fmt.Errorf("%w: Could not find operation %s for version %s", errInvalidAction, action, Version))
		return
	}
	if v := form.Get("Version"); v != "" && v != Version {
		refuse(w, r, fmt.Errorf("%w: Could not find operation %s for version %s", errInvalidAction, action, v))
		return
	}
	account, _ := sigv4.AccountFrom(r.Context())
	arn, _ := sigv4.PrincipalFrom(r.Context())
	if account == "" || arn == "" {
		refuse(w, r, fmt.Errorf("%w: the request is not signed by a principal", sigv4.ErrMissingAuth))
		return
	}
	out, err := op(h, r, form, identity{account: account, arn: arn})
	if err != nil {
		refuse(w, r, err)
		return
	}
	h.Logger.Info("sts", "op", action, "account", account, "principal", arn)
	requestID(w)
	writeXML(w, http.StatusOK, out)
}

// parseForm reads the parameters of a POST's form body (or a GET's query).
func parseForm(r *http.Request) (url.Values, error) {
	if r.URL.Path != "/" || (r.Method != http.MethodPost && r.Method != http.MethodGet) {
		return nil, errMethod
	}
	if err := r.ParseForm(); err != nil {
		return nil, fmt.Errorf("%w: the form cannot be parsed: %v", errValidation, err)
	}
	return r.Form, nil
}

type getCallerIdentityResponse struct {
	XMLName  xml.Name         `xml:"GetCallerIdentityResponse"`
	Xmlns    string           `xml:"xmlns,attr"`
	Result   callerIdentity   `xml:"GetCallerIdentityResult"`
	Metadata responseMetadata `xml:"ResponseMetadata"`
}

type callerIdentity struct {
	Arn     string
	UserID  string `xml:"UserId"`
	Account string
}

func (h *Handler) getCallerIdentity(r *http.Request, _ url.Values, caller identity) (any, error) {
	id, err := h.uniqueID(r.Context(), caller)
	if err != nil {
		return nil, err
	}
	return getCallerIdentityResponse{Xmlns: Namespace, Result: callerIdentity{Arn: caller.arn, UserID: id, Account: caller.account}}, nil
}

// uniqueID is GetCallerIdentity's UserId: the user's unique ID, or for a
// session the role's unique ID and the session name. A session of a role
// deleted since still answers, with the role's name for its ID.
func (h *Handler) uniqueID(ctx context.Context, caller identity) (string, error) {
	if roleARN, ok := iam.RoleOfSession(caller.arn); ok {
		p, _ := iam.ParseARN(roleARN)
		session := caller.arn[strings.LastIndex(caller.arn, "/")+1:]
		role, err := h.Principals.GetRole(ctx, p.Account, p.Name)
		if errors.Is(err, errdefs.ErrNotFound) {
			return p.Name + ":" + session, nil
		}
		return role.RoleID + ":" + session, err
	}
	p, err := iam.ParseARN(caller.arn)
	if err != nil || p.Kind != iam.KindUser {
		return "", fmt.Errorf("the caller %s is not a principal: %w", caller.arn, err)
	}
	u, err := h.Principals.GetUser(ctx, p.Account, p.Name)
	if errors.Is(err, errdefs.ErrNotFound) {
		// The key outlived its user (deleted by hand in the store).
		return "", fmt.Errorf("%w: the user that signed no longer exists", sigv4.ErrUnknownKey)
	}
	return u.UserID, err
}

type assumeRoleResponse struct {
	XMLName  xml.Name         `xml:"AssumeRoleResponse"`
	Xmlns    string           `xml:"xmlns,attr"`
	Result   assumeRoleResult `xml:"AssumeRoleResult"`
	Metadata responseMetadata `xml:"ResponseMetadata"`
}

type assumeRoleResult struct {
	AssumedRoleUser  assumedRoleUser
	Credentials      credentials
	PackedPolicySize int
}

type assumedRoleUser struct {
	Arn           string
	AssumedRoleID string `xml:"AssumedRoleId"`
}

type credentials struct {
	AccessKeyID     string `xml:"AccessKeyId"`
	SecretAccessKey string
	SessionToken    string
	Expiration      string
}

// unsupported are AssumeRole parameters that would narrow or condition the
// session: refused rather than ignored, so nobody believes them applied.
var unsupported = []string{"Policy", "PolicyArns.member.1.arn", "SerialNumber", "TokenCode"}

func (h *Handler) assumeRole(r *http.Request, form url.Values, caller identity) (any, error) {
	in, err := assumeRoleInput(form, caller)
	if err != nil {
		return nil, err
	}
	role, err := h.Principals.Assumable(r.Context(), in.roleARN, caller.arn)
	if err != nil {
		return nil, err
	}
	claims := sessiontoken.Claims{Account: role.Account, RoleARN: role.ARN, SessionName: in.session,
		Expiration: h.now().UTC().Add(in.duration).Truncate(time.Second)}
	claims, secret, token, err := h.Sealer.Issue(claims)
	if err != nil {
		return nil, fmt.Errorf("issuing credentials: %w", err)
	}
	return assumeRoleResponse{Xmlns: Namespace, Result: assumeRoleResult{
		AssumedRoleUser: assumedRoleUser{Arn: claims.AssumedRoleARN(), AssumedRoleID: role.RoleID + ":" + in.session},
		Credentials: credentials{AccessKeyID: claims.AccessKeyID, SecretAccessKey: secret, SessionToken: token,
			Expiration: claims.Expiration.Format(time.RFC3339)},
	}}, nil
}

type assumeRoleParams struct {
	roleARN, session string
	duration         time.Duration
}

// assumeRoleInput validates AssumeRole's parameters, with STS's messages.
func assumeRoleInput(form url.Values, caller identity) (assumeRoleParams, error) {
	in := assumeRoleParams{roleARN: form.Get("RoleArn"), session: form.Get("RoleSessionName"), duration: DefaultDuration}
	if in.roleARN == "" {
		return in, fmt.Errorf("%w: 1 validation error detected: Value null at 'roleArn' failed to satisfy constraint: Member must not be null", errValidation)
	}
	if len(in.roleARN) < 20 || len(in.roleARN) > 2048 {
		return in, fmt.Errorf("%w: 1 validation error detected: Value at 'roleArn' failed to satisfy constraint: Member must have length between 20 and 2048", errValidation)
	}
	if !sessionNamePattern.MatchString(in.session) {
		return in, fmt.Errorf("%w: 1 validation error detected: Value %q at 'roleSessionName' failed to satisfy constraint: Member must have length between 2 and 64 and satisfy regular expression pattern: [\\w+=,.@-]*", errValidation, in.session)
	}
	for _, p := range unsupported {
		if form.Has(p) {
			return in, fmt.Errorf("%w: %s is not supported: cellplane's roles have no policies or MFA conditions to apply it to", errValidation, strings.TrimSuffix(p, ".member.1.arn"))
		}
	}
	if d := form.Get("DurationSeconds"); d != "" {
		secs, err := strconv.Atoi(d)
		if err != nil || secs < int(MinDuration.Seconds()) || secs > int(MaxDuration.Seconds()) {
			return in, fmt.Errorf("%w: 1 validation error detected: Value '%s' at 'durationSeconds' failed to satisfy constraint: Member must have value between %d and %d",
				errValidation, d, int(MinDuration.Seconds()), int(MaxDuration.Seconds()))
		}
		in.duration = time.Duration(secs) * time.Second
	}
	if _, chained := iam.RoleOfSession(caller.arn); chained && in.duration > MaxChained {
		return in, fmt.Errorf("%w: The requested DurationSeconds exceeds the 1 hour session limit for roles assumed by role chaining", errValidation)
	}
	return in, nil
}

func (h *Handler) now() time.Time {
	if h.Now == nil {
		return time.Now()
	}
	return h.Now()
}
