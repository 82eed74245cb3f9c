package ekstoken

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/cellplane/cellplane/internal/sessiontoken"
)

// Prefix starts every token.
const Prefix = "k8s-aws-v1."

// ClusterIDHeader is the signed header that binds a token to its cluster.
const ClusterIDHeader = "x-k8s-aws-id"

// Lifetime is how long a token is valid after its X-Amz-Date, whatever its
// X-Amz-Expires says, as at EKS: awscli presigns for 60 seconds but tells
// kubectl the token lasts 14 minutes, and kubectl reuses it that long.
const Lifetime = 15 * time.Minute

// maxExpires is the largest X-Amz-Expires accepted (aws-iam-authenticator's).
const maxExpires = 900

// MaxLen is the longest token accepted: twice aws-iam-authenticator's 4 KiB,
// since the session token a temporary credential's URL carries holds its
// sealed claims and signing keys.
const MaxLen = 8192

const (
	algorithm   = "AWS4-HMAC-SHA256"
	dateFormat  = "20060102T150405Z"
	service     = "sts"
	terminal    = "aws4_request"
	emptySHA256 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
	unsigned    = "UNSIGNED-PAYLOAD"
)

// Errors a verification wraps. Every one means 401 to the caller; they are
// apart so logs and tests can tell why.
var (
	ErrMalformed  = errors.New("token is not a presigned STS GetCallerIdentity URL")
	ErrExpired    = errors.New("token is expired")
	ErrCluster    = errors.New("token is for another cluster")
	ErrUnknownKey = errors.New("token is signed by an unknown or inactive access key")
	ErrSignature  = errors.New("token signature does not match")
)

// allowed are the query parameters a token may carry (lower case), as
// aws-iam-authenticator allows them.
var allowed = map[string]bool{
	"action": true, "version": true, "x-amz-algorithm": true, "x-amz-credential": true,
	"x-amz-date": true, "x-amz-expires": true, "x-amz-security-token": true,
	"x-amz-signature": true, "x-amz-signedheaders": true,
}

// Identity is who signed a token.
type Identity struct {
	AccessKeyID string
	Account     string
	// PrincipalARN is the IAM user, or for temporary credentials the role,
	// that access entries are looked up by.
	PrincipalARN string
	// ARN is what GetCallerIdentity would report: the user's ARN, or the
	// assumed role's (arn:aws:sts::<account>:assumed-role/<role>/<session>).
	ARN string
	// SessionName is the role session's name; empty for a user.
	SessionName string
}

// KeySource finds the signing key of a long-term access key for one day
// (yyyymmdd). It returns an error wrapping ErrUnknownKey for a key it does not
// know, or knows as inactive, and the identity the key signs for.
type KeySource interface {
	SigningKey(accessKeyID, day string) (Identity, []byte, error)
}

// Verifier checks tokens for the clusters of one region.
type Verifier struct {
	Keys    KeySource
	CellKey []byte // opens temporary credentials' session tokens
	Region  string // the signing region, as STS's credential scope names it
	// Hosts are the STS hosts a token may name; nil means
	// sts.<Region>.amazonaws.com (what awscli presigns for) and
	// sts.amazonaws.com (the global endpoint).
	Hosts []string
	Now   func() time.Time
}

// presigned is a parsed token.
type presigned struct {
	u         *url.URL
	params    map[string]string // lower-case key → value
	rawParams url.Values
	akid, day string
	date      time.Time
}

// Verify checks token for cluster (the name x-k8s-aws-id must carry) and
// returns who signed it.
func (v *Verifier) Verify(token, cluster string) (Identity, error) {
	p, err := v.parse(token)
	if err != nil {
		return Identity{}, err
	}
	if err := v.checkTime(p); err != nil {
		return Identity{}, err
	}
	id, key, err := v.signingKey(p)
	if err != nil {
		return Identity{}, err
	}
	if err := checkSignature(p, key, cluster); err != nil {
		return Identity{}, err
	}
	id.AccessKeyID = p.akid
	return id, nil
}

func (v *Verifier) parse(token string) (*presigned, error) {
	if len(token) > MaxLen {
		return nil, fmt.Errorf("%w: longer than %d bytes", ErrMalformed, MaxLen)
	}
	raw, ok := strings.CutPrefix(token, Prefix)
	if !ok {
		return nil, fmt.Errorf("%w: no %q prefix", ErrMalformed, Prefix)
	}
	b, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(raw, "="))
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	u, err := url.Parse(string(b))
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	if u.Scheme != "https" || u.User != nil || u.Fragment != "" || (u.Path != "/" && u.Path != "") {
		return nil, fmt.Errorf("%w: not https://<sts host>/", ErrMalformed)
	}
	if !v.hostAllowed(u.Host) {
		return nil, fmt.Errorf("%w: unexpected host %q", ErrMalformed, u.Host)
	}
	p := &presigned{u: u, params: map[string]string{}}
	if p.rawParams, err = url.ParseQuery(u.RawQuery); err != nil {
		return nil, fmt.Errorf("%w: query: %v", ErrMalformed, err)
	}
	for k, vs := range p.rawParams {
		lk := strings.ToLower(k)
		if !allowed[lk] || len(vs) != 1 {
			return nil, fmt.Errorf("%w: parameter %q not allowed or repeated", ErrMalformed, k)
		}
		if _, dup := p.params[lk]; dup {
			return nil, fmt.Errorf("%w: parameter %q repeated", ErrMalformed, k)
		}
		p.params[lk] = vs[0]
	}
	return p, v.checkParams(p)
}

func (v *Verifier) hostAllowed(host string) bool {
	hosts := v.Hosts
	if hosts == nil {
		hosts = []string{"sts." + v.Region + ".amazonaws.com", "sts.amazonaws.com"}
	}
	for _, h := range hosts {
		if strings.EqualFold(host, h) {
			return true
		}
	}
	return false
}

func (v *Verifier) checkParams(p *presigned) error {
	switch {
	case p.params["action"] != "GetCallerIdentity":
		return fmt.Errorf("%w: action is not GetCallerIdentity", ErrMalformed)
	case p.params["x-amz-algorithm"] != algorithm:
		return fmt.Errorf("%w: algorithm is not %s", ErrMalformed, algorithm)
	case p.params["x-amz-signature"] == "":
		return fmt.Errorf("%w: no signature", ErrMalformed)
	}
	if !signsClusterID(p.params["x-amz-signedheaders"]) {
		return fmt.Errorf("%w: %s is not signed", ErrMalformed, ClusterIDHeader)
	}
	expires, err := strconv.Atoi(p.params["x-amz-expires"])
	if err != nil || expires < 0 || expires > maxExpires {
		return fmt.Errorf("%w: X-Amz-Expires must be 0 to %d seconds", ErrMalformed, maxExpires)
	}
	scope := strings.Split(p.params["x-amz-credential"], "/")
	if len(scope) != 5 || scope[0] == "" || scope[2] != v.Region || scope[3] != service || scope[4] != terminal {
		return fmt.Errorf("%w: credential scope is not <key>/<day>/%s/%s/%s", ErrMalformed, v.Region, service, terminal)
	}
	p.akid, p.day = scope[0], scope[1]
	if p.date, err = time.Parse(dateFormat, p.params["x-amz-date"]); err != nil {
		return fmt.Errorf("%w: X-Amz-Date: %v", ErrMalformed, err)
	}
	if p.date.Format("20060102") != p.day {
		return fmt.Errorf("%w: credential scope day is not X-Amz-Date's", ErrMalformed)
	}
	return nil
}

// signsClusterID reports whether the signed headers are host and
// x-k8s-aws-id: the only headers whose values a verifier knows.
func signsClusterID(list string) bool {
	h := strings.Split(list, ";")
	return len(h) == 2 && h[0] == "host" && h[1] == ClusterIDHeader
}

// checkTime refuses tokens older than Lifetime and tokens dated further in
// the future than that (a clock far ahead, or a forged date).
func (v *Verifier) checkTime(p *presigned) error {
	now := time.Now()
	if v.Now != nil {
		now = v.Now()
	}
	if now.After(p.date.Add(Lifetime)) {
		return fmt.Errorf("%w: signed at %s", ErrExpired, p.date.Format(time.RFC3339))
	}
	if p.date.After(now.Add(Lifetime)) {
		return fmt.Errorf("%w: signed in the future, at %s", ErrExpired, p.date.Format(time.RFC3339))
	}
	return nil
}

// signingKey finds the key for the token's day: from the session token for
// temporary credentials, from the key source for long-term keys.
func (v *Verifier) signingKey(p *presigned) (Identity, []byte, error) {
	if !strings.HasPrefix(p.akid, sessiontoken.AccessKeyPrefix) {
		if p.params["x-amz-security-token"] != "" {
			return Identity{}, nil, fmt.Errorf("%w: a long-term key with a session token", ErrMalformed)
		}
		return v.Keys.SigningKey(p.akid, p.day)
	}
	now := time.Now()
	if v.Now != nil {
		now = v.Now()
	}
	claims, keys, err := sessiontoken.OpenForCell(v.CellKey, v.Region, p.params["x-amz-security-token"], now)
	if err != nil {
		if errors.Is(err, sessiontoken.ErrExpired) {
			return Identity{}, nil, fmt.Errorf("%w: %v", ErrExpired, err)
		}
		return Identity{}, nil, fmt.Errorf("%w: %v", ErrUnknownKey, err)
	}
	key, ok := keys[p.day]
	if claims.AccessKeyID != p.akid || !ok {
		return Identity{}, nil, fmt.Errorf("%w: session token is not for %s on %s", ErrUnknownKey, p.akid, p.day)
	}
	return Identity{Account: claims.Account, PrincipalARN: claims.RoleARN, ARN: claims.AssumedRoleARN(),
		SessionName: claims.SessionName}, key, nil
}

// checkSignature recomputes the SigV4 query signature. The payload hash is
// the empty body's (botocore, aws-sdk-go) or UNSIGNED-PAYLOAD (signers that
// presign every request that way); either binds everything else.
func checkSignature(p *presigned, key []byte, cluster string) error {
	sig := p.params["x-amz-signature"]
	got, err := hex.DecodeString(sig)
	if err != nil || len(got) != sha256.Size || strings.ToLower(sig) != sig {
		// One spelling only, as signers write it, so one signature is one token.
		return fmt.Errorf("%w: signature is not 64 lower-case hex digits", ErrSignature)
	}
	headers := "host:" + strings.ToLower(p.u.Host) + "\n" + ClusterIDHeader + ":" + strings.TrimSpace(cluster) + "\n"
	for _, payload := range []string{emptySHA256, unsigned} {
		creq := strings.Join([]string{"GET", "/", canonicalQuery(p.rawParams), headers,
			"host;" + ClusterIDHeader, payload}, "\n")
		sum := sha256.Sum256([]byte(creq))
		sts := strings.Join([]string{algorithm, p.params["x-amz-date"],
			strings.SplitN(p.params["x-amz-credential"], "/", 2)[1], hex.EncodeToString(sum[:])}, "\n")
		if hmac.Equal(got, hmacSHA256(key, sts)) {
			return nil
		}
	}
	// A token for another cluster fails here too: x-k8s-aws-id is signed.
	return fmt.Errorf("%w (or it is for another cluster than %q)", ErrSignature, cluster)
}

// canonicalQuery is every parameter but the signature, sorted, RFC 3986
// encoded, as SigV4 asks.
func canonicalQuery(q url.Values) string {
	type param struct{ k, v string }
	var params []param
	for k, vs := range q {
		if strings.EqualFold(k, "X-Amz-Signature") {
			continue
		}
		for _, v := range vs {
			params = append(params, param{uriEncode(k), uriEncode(v)})
		}
	}
	sort.Slice(params, func(i, j int) bool {
		if params[i].k != params[j].k {
			return params[i].k < params[j].k
		}
		return params[i].v < params[j].v
	})
	out := make([]string, len(params))
	for i, p := range params {
		out[i] = p.k + "=" + p.v
	}
	return strings.Join(out, "&")
}

func uriEncode(s string) string {
	const hexDigits = "0123456789ABCDEF"
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-' || c == '.' || c == '_' || c == '~' {
			b.WriteByte(c)
			continue
		}
		b.WriteByte('%')
		b.WriteByte(hexDigits[c>>4])
		b.WriteByte(hexDigits[c&15])
	}
	return b.String()
}

func hmacSHA256(key []byte, data string) []byte {
	h := hmac.New(sha256.New, key)
	h.Write([]byte(data))
	return h.Sum(nil)
}
