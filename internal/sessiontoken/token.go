package sessiontoken

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/base32"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/cellplane/cellplane/internal/sigv4"
)

// AccessKeyPrefix starts every temporary access key ID, as ASIA does at AWS.
const AccessKeyPrefix = "CPAS"

// SigningService is the service the cell's signing keys are derived for.
const SigningService = "sts"

// tokenPrefix starts every session token and names its format's version.
const tokenPrefix = "CPST1."

// KeySize is the size of the region key and the cell key (AES-256).
const KeySize = 32

// ErrInvalid is wrapped by every error about a token that is not one of ours,
// was tampered with, or was sealed with other keys.
var ErrInvalid = errors.New("the security token included in the request is invalid")

// ErrExpired is wrapped when the token's credential has expired.
var ErrExpired = errors.New("the security token included in the request is expired")

// Claims is what a temporary credential stands for.
type Claims struct {
	AccessKeyID string    `json:"akid"`
	Account     string    `json:"account"`
	RoleARN     string    `json:"role"`    // arn:aws:iam::<account>:role/<name>
	SessionName string    `json:"session"` // the RoleSessionName of AssumeRole
	Expiration  time.Time `json:"exp"`
}

// AssumedRoleARN is the ARN GetCallerIdentity reports for the session:
// arn:aws:sts::<account>:assumed-role/<role name>/<session name>.
func (c Claims) AssumedRoleARN() string {
	name := c.RoleARN[strings.LastIndex(c.RoleARN, "/")+1:]
	return fmt.Sprintf("arn:aws:sts::%s:assumed-role/%s/%s", c.Account, name, c.SessionName)
}

// outer is the cell-readable layer.
type outer struct {
	Claims Claims `json:"claims"`
	// SigningKeys maps each day (yyyymmdd, UTC) the credential lives to the
	// SigV4 signing key of the secret for that day, Region and SigningService.
	SigningKeys map[string][]byte `json:"keys"`
	Region      string            `json:"region"`
	Inner       []byte            `json:"inner"` // the secret, sealed with the region key
}

// Sealer issues and opens tokens; the regional API holds one.
type Sealer struct {
	RegionKey []byte // seals the secret; never leaves the region
	CellKey   []byte // seals the claims and signing keys; every cell holds it
	Region    string // the region the signing keys are derived for
	Now       func() time.Time
}

// Issue makes a temporary credential for c: its secret and its session
// token. c.AccessKeyID is filled in when empty.
func (s *Sealer) Issue(c Claims) (Claims, string, string, error) {
	if c.AccessKeyID == "" {
		id, err := newAccessKeyID()
		if err != nil {
			return Claims{}, "", "", err
		}
		c.AccessKeyID = id
	}
	secretBytes := make([]byte, 30)
	if _, err := rand.Read(secretBytes); err != nil {
		return Claims{}, "", "", fmt.Errorf("generating a secret: %w", err)
	}
	secret := base64.StdEncoding.EncodeToString(secretBytes)
	// The inner layer is bound to the claims, so a holder of the cell key
	// cannot pair a real secret with claims of its own making.
	bound, err := json.Marshal(c)
	if err != nil {
		return Claims{}, "", "", fmt.Errorf("encoding claims: %w", err)
	}
	inner, err := seal(s.RegionKey, []byte(secret), bound)
	if err != nil {
		return Claims{}, "", "", err
	}
	o := outer{Claims: c, SigningKeys: map[string][]byte{}, Region: s.Region, Inner: inner}
	for day := s.now().UTC().Truncate(24 * time.Hour); !day.After(c.Expiration.UTC()); day = day.Add(24 * time.Hour) {
		d := day.Format("20060102")
		o.SigningKeys[d] = sigv4.SigningKey(secret, d, s.Region, SigningService)
	}
	plain, err := json.Marshal(o)
	if err != nil {
		return Claims{}, "", "", fmt.Errorf("encoding a session token: %w", err)
	}
	sealed, err := seal(s.CellKey, plain, []byte(tokenPrefix))
	if err != nil {
		return Claims{}, "", "", err
	}
	return c, secret, tokenPrefix + base64.RawURLEncoding.EncodeToString(sealed), nil
}

// Open returns the claims and the secret of a token that has not expired.
func (s *Sealer) Open(token string) (Claims, string, error) {
	o, err := openOuter(s.CellKey, token, s.now())
	if err != nil {
		return Claims{}, "", err
	}
	bound, err := json.Marshal(o.Claims)
	if err != nil {
		return Claims{}, "", fmt.Errorf("encoding claims: %w", err)
	}
	secret, err := open(s.RegionKey, o.Inner, bound)
	if err != nil {
		return Claims{}, "", fmt.Errorf("%w: %v", ErrInvalid, err)
	}
	return o.Claims, string(secret), nil
}

// OpenForCell returns the claims of a token that has not expired at now and
// its signing keys for the STS service of region, by day (yyyymmdd).
func OpenForCell(cellKey []byte, region, token string, now time.Time) (Claims, map[string][]byte, error) {
	o, err := openOuter(cellKey, token, now)
	if err != nil {
		return Claims{}, nil, err
	}
	if o.Region != region {
		return Claims{}, nil, fmt.Errorf("%w: issued for region %q", ErrInvalid, o.Region)
	}
	return o.Claims, o.SigningKeys, nil
}

func openOuter(cellKey []byte, token string, now time.Time) (outer, error) {
	body, ok := strings.CutPrefix(token, tokenPrefix)
	if !ok {
		return outer{}, ErrInvalid
	}
	sealed, err := base64.RawURLEncoding.DecodeString(body)
	if err != nil {
		return outer{}, fmt.Errorf("%w: %v", ErrInvalid, err)
	}
	plain, err := open(cellKey, sealed, []byte(tokenPrefix))
	if err != nil {
		return outer{}, fmt.Errorf("%w: %v", ErrInvalid, err)
	}
	var o outer
	if err := json.Unmarshal(plain, &o); err != nil {
		return outer{}, fmt.Errorf("%w: %v", ErrInvalid, err)
	}
	if !now.Before(o.Claims.Expiration) {
		return outer{}, fmt.Errorf("%w: expired at %s", ErrExpired, o.Claims.Expiration.UTC().Format(time.RFC3339))
	}
	return o, nil
}

func (s *Sealer) now() time.Time {
	if s.Now == nil {
		return time.Now()
	}
	return s.Now()
}

var akidEncoding = base32.StdEncoding.WithPadding(base32.NoPadding)

func newAccessKeyID() (string, error) {
	b := make([]byte, 10)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("generating an access key ID: %w", err)
	}
	return AccessKeyPrefix + akidEncoding.EncodeToString(b), nil
}

func seal(key, plain, aad []byte) ([]byte, error) {
	aead, err := gcm(key)
	if err != nil {
		return nil, err
	}
	nonce := make([]byte, aead.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		return nil, fmt.Errorf("generating a nonce: %w", err)
	}
	return aead.Seal(nonce, nonce, plain, aad), nil
}

func open(key, sealed, aad []byte) ([]byte, error) {
	aead, err := gcm(key)
	if err != nil {
		return nil, err
	}
	if len(sealed) < aead.NonceSize() {
		return nil, errors.New("too short")
	}
	return aead.Open(nil, sealed[:aead.NonceSize()], sealed[aead.NonceSize():], aad)
}

func gcm(key []byte) (cipher.AEAD, error) {
	if len(key) != KeySize {
		return nil, fmt.Errorf("a session token key must be %d bytes, not %d", KeySize, len(key))
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("session token key: %w", err)
	}
	return cipher.NewGCM(block)
}
