package bootstrap

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"regexp"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
)

// Upstream's names (k8s.io/cluster-bootstrap/token/api): the authenticator
// finds a token's Secret by this prefix and type, in this namespace.
const (
	secretPrefix    = "bootstrap-token-"
	secretType      = corev1.SecretType("bootstrap.kubernetes.io/token")
	secretNamespace = metav1.NamespaceSystem
	// Group is the group every bootstrap token authenticates as.
	Group = "system:bootstrappers"
)

var (
	// ErrInvalidToken is wrapped when a token or its options are malformed.
	ErrInvalidToken = errors.New("invalid bootstrap token")

	tokenRE = regexp.MustCompile(`^([a-z0-9]{6})\.([a-z0-9]{16})$`)
	// extraGroupRE is what the authenticator accepts in auth-extra-groups.
	extraGroupRE = regexp.MustCompile(`^system:bootstrappers:[a-z0-9:-]{0,255}[a-z0-9]$`)
)

// Token is a bootstrap token, "<id>.<secret>". The ID is public (it names the
// Secret); the secret part is the credential.
type Token struct{ ID, Secret string }

func (t Token) String() string { return t.ID + "." + t.Secret }

// ParseToken parses "<id>.<secret>".
func ParseToken(s string) (Token, error) {
	m := tokenRE.FindStringSubmatch(s)
	if m == nil {
		return Token{}, fmt.Errorf("%w: want [a-z0-9]{6}.[a-z0-9]{16}", ErrInvalidToken)
	}
	return Token{ID: m[1], Secret: m[2]}, nil
}

const tokenAlphabet = "abcdefghijklmnopqrstuvwxyz0123456789"

// NewToken returns a random token from crypto/rand.
func NewToken() (Token, error) {
	b := make([]byte, 22)
	if _, err := rand.Read(b); err != nil {
		return Token{}, fmt.Errorf("generating a bootstrap token: %w", err)
	}
	// 256 is not a multiple of 36: rejection would be exact, but a bias
	// of under 2% per character still leaves each secret over 80 bits.
	for i := range b {
		b[i] = tokenAlphabet[int(b[i])%len(tokenAlphabet)]
	}
	return Token{ID: string(b[:6]), Secret: string(b[6:])}, nil
}

// TokenOptions says what a token is for.
type TokenOptions struct {
	// Description is shown to whoever lists the cluster's tokens.
	Description string
	// TTL bounds the token's life; the controller manager's tokencleaner
	// deletes it after that. Zero means it never expires.
	TTL time.Duration
	// ExtraGroups are groups beyond system:bootstrappers the token's holder
	// is in, each "system:bootstrappers:<suffix>", e.g. one per node group,
	// so RBAC can tell node groups apart.
	ExtraGroups []string
}

func (o TokenOptions) validate() error {
	if o.TTL < 0 {
		return fmt.Errorf("%w: negative TTL %s", ErrInvalidToken, o.TTL)
	}
	for _, g := range o.ExtraGroups {
		if !extraGroupRE.MatchString(g) {
			return fmt.Errorf("%w: extra group %q must match %s", ErrInvalidToken, g, extraGroupRE)
		}
	}
	return nil
}

// Secret is the Secret that makes t valid in a cluster, expiring now+TTL.
func Secret(t Token, o TokenOptions, now time.Time) (*corev1.Secret, error) {
	if _, err := ParseToken(t.String()); err != nil {
		return nil, err
	}
	if err := o.validate(); err != nil {
		return nil, err
	}
	data := map[string]string{
		"token-id":                       t.ID,
		"token-secret":                   t.Secret,
		"usage-bootstrap-authentication": "true",
	}
	if o.Description != "" {
		data["description"] = o.Description
	}
	if o.TTL > 0 {
		data["expiration"] = now.Add(o.TTL).UTC().Format(time.RFC3339)
	}
	if len(o.ExtraGroups) > 0 {
		groups := o.ExtraGroups[0]
		for _, g := range o.ExtraGroups[1:] {
			groups += "," + g
		}
		data["auth-extra-groups"] = groups
	}
	return &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: secretPrefix + t.ID, Namespace: secretNamespace},
		Type:       secretType,
		StringData: data,
	}, nil
}

// CreateToken makes a new random token valid in the cluster cs talks to.
func CreateToken(ctx context.Context, cs kubernetes.Interface, o TokenOptions) (Token, error) {
	t, err := NewToken()
	if err != nil {
		return Token{}, err
	}
	s, err := Secret(t, o, time.Now())
	if err != nil {
		return Token{}, err
	}
	if _, err := cs.CoreV1().Secrets(secretNamespace).Create(ctx, s, metav1.CreateOptions{}); err != nil {
		return Token{}, fmt.Errorf("creating bootstrap token %s: %w", t.ID, err)
	}
	return t, nil
}

// DeleteToken revokes the token with the given ID. A token already gone is
// not an error.
func DeleteToken(ctx context.Context, cs kubernetes.Interface, id string) error {
	err := cs.CoreV1().Secrets(secretNamespace).Delete(ctx, secretPrefix+id, metav1.DeleteOptions{})
	if err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("deleting bootstrap token %s: %w", id, err)
	}
	return nil
}
