package sigv4

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"net/http"
	"strings"
	"time"
)

const (
	// DefaultMaxSkew is how far X-Amz-Date may be from the server's clock, as AWS.
	DefaultMaxSkew = 15 * time.Minute
	// DefaultMaxBody bounds the body read to hash it; EKS requests are small JSON
	// (a CreateCluster with 50 tags is a few kilobytes).
	DefaultMaxBody = 256 << 10
	// DefaultService is the signing name of the EKS API.
	DefaultService = "eks"
	// UnsignedPayload is the X-Amz-Content-Sha256 value of a body left out of
	// the signature. It is accepted only on requests without a body, where it
	// leaves nothing unsigned.
	UnsignedPayload = "UNSIGNED-PAYLOAD"
)

// Verifier checks SigV4 header signatures against a KeyStore. The zero values
// of Service, Now, MaxSkew and MaxBody mean "eks", time.Now, 15 minutes and
// 256 KiB. Region and Hosts, when set, are what the credential scope and the
// Host header must name; the regional API always sets both.
//
// Sessions, when set, opens the session tokens of temporary credentials: a
// request with an X-Amz-Security-Token header is checked with the secret its
// token carries and never reaches Keys. Without Sessions such a request is
// refused as signed by an unknown key.
type Verifier struct {
	Keys     KeyStore
	Sessions SessionOpener
	Service  string
	Region   string
	Hosts    []string
	Now      func() time.Time
	MaxSkew  time.Duration
	MaxBody  int64
}

// Verify checks r's signature and returns the credentials that signed it.
//
// Everything that needs no body comes first, cheapest first: the header's
// syntax, the scope (service, region, date and skew), the Host, the key and
// its account. Only a request that passes all of them has its body read, and
// then at most MaxBody bytes, hashed as they stream. When the client sent the
// signed X-Amz-Content-Sha256 the signature is checked from the headers alone,
// before the first body byte, and the streamed body must then hash to the
// signed value; without it (the AWS SDKs send it only to S3) the signature
// covers a hash only the body gives, so it is checked once the body is in. In
// both cases the next handler gets the body from memory, entirely verified:
// a body that does not match fails the request before it takes effect.
//
// Errors wrap this package's sentinels, except failures of the KeyStore other
// than ErrUnknownKey, which are returned wrapped as they are.
func (v *Verifier) Verify(r *http.Request) (Credentials, error) {
	a, err := parseRequestAuth(r)
	if err != nil {
		return Credentials{}, err
	}
	if err := v.checkScope(a); err != nil {
		return Credentials{}, err
	}
	if err := v.checkHost(r); err != nil {
		return Credentials{}, err
	}
	claimed, err := v.claimedHash(r)
	if err != nil {
		return Credentials{}, err
	}
	creds, err := v.credentials(r, a.AccessKeyID)
	if err != nil {
		return Credentials{}, err
	}
	if claimed != "" {
		return creds, v.verifyThenStream(r, a, creds, claimed)
	}
	return creds, v.streamThenVerify(r, a, creds)
}

// HeaderSecurityToken carries the session token of temporary credentials.
const HeaderSecurityToken = "X-Amz-Security-Token" //nolint:gosec // G101: a header name, not a credential

// credentials are those of the session token when the request carries one,
// else those the key store holds for akid.
func (v *Verifier) credentials(r *http.Request, akid string) (Credentials, error) {
	token := r.Header.Get(HeaderSecurityToken)
	if token == "" {
		return v.lookup(r, akid)
	}
	if v.Sessions == nil {
		return Credentials{}, fmt.Errorf("%w: temporary credentials are not accepted here", ErrUnknownKey)
	}
	creds, err := v.Sessions.OpenSession(akid, token)
	if err != nil {
		return Credentials{}, fmt.Errorf("opening the session token: %w", err)
	}
	if creds.Account == "" || creds.AccessKeyID != akid {
		return Credentials{}, fmt.Errorf("%w: the session token does not belong to access key %s", ErrUnknownKey, akid)
	}
	return creds, nil
}

// lookup finds the key and refuses one that names no account: a request must
// never fall through to a default account.
func (v *Verifier) lookup(r *http.Request, akid string) (Credentials, error) {
	creds, err := v.Keys.Lookup(r.Context(), akid)
	if err != nil {
		return Credentials{}, fmt.Errorf("looking up access key: %w", err)
	}
	if creds.Account == "" {
		return Credentials{}, fmt.Errorf("access key %s belongs to no account: %w", akid, ErrUnknownKey)
	}
	return creds, nil
}

// verifyThenStream checks the signature over the claimed payload hash, then
// reads the body and checks that it hashes to the claim.
func (v *Verifier) verifyThenStream(r *http.Request, a authorization, creds Credentials, claimed string) error {
	if err := v.checkSignature(r, a, creds, claimed); err != nil {
		return err
	}
	actual, err := v.readBody(r)
	if err != nil {
		return err
	}
	if claimed != UnsignedPayload && !strings.EqualFold(claimed, actual) {
		return fmt.Errorf("%w: X-Amz-Content-Sha256 does not match the body", ErrBadSignature)
	}
	return nil
}

// streamThenVerify reads and hashes the body, then checks the signature over it.
func (v *Verifier) streamThenVerify(r *http.Request, a authorization, creds Credentials) error {
	actual, err := v.readBody(r)
	if err != nil {
		return err
	}
	return v.checkSignature(r, a, creds, actual)
}

func (v *Verifier) checkSignature(r *http.Request, a authorization, creds Credentials, payloadHash string) error {
	canonical, err := canonicalRequest(r, a.SignedHeaders, payloadHash)
	if err != nil {
		return err
	}
	if !signatureMatches(a, creds.SecretAccessKey, canonical) {
		return fmt.Errorf("%w; check your secret access key and signing method", ErrBadSignature)
	}
	return nil
}

// checkScope rejects a credential scope for another service, region or day and
// a date outside the allowed skew, before any key is looked up.
func (v *Verifier) checkScope(a authorization) error {
	if a.Service != v.service() {
		return fmt.Errorf("%w: credential should be scoped to correct service: '%s'", ErrBadSignature, v.service())
	}
	if v.Region != "" && a.Region != v.Region {
		// AWS's own wording, which users search for.
		return fmt.Errorf("%w: Credential should be scoped to a valid region, not '%s'", ErrBadSignature, a.Region)
	}
	if a.ScopeDate != a.RawDate[:len(scopeDateFmt)] {
		return fmt.Errorf("%w: date in credential scope does not match YYYYMMDD from X-Amz-Date", ErrBadSignature)
	}
	now := v.now().UTC()
	skew := v.maxSkew()
	switch {
	case a.Date.Before(now.Add(-skew)):
		return fmt.Errorf("%w: Signature expired: %s is now earlier than %s (%s - %s)",
			ErrExpired, a.RawDate, now.Add(-skew).Format(amzDateFormat), now.Format(amzDateFormat), skew)
	case a.Date.After(now.Add(skew)):
		return fmt.Errorf("%w: Signature not yet current: %s is still later than %s (%s + %s)",
			ErrExpired, a.RawDate, now.Add(skew).Format(amzDateFormat), now.Format(amzDateFormat), skew)
	}
	return nil
}

// checkHost refuses a request addressed to another host: the signature covers
// Host, so a request signed for another endpoint must not be replayed here.
func (v *Verifier) checkHost(r *http.Request) error {
	if len(v.Hosts) == 0 {
		return nil
	}
	for _, h := range v.Hosts {
		if strings.EqualFold(h, r.Host) {
			return nil
		}
	}
	return fmt.Errorf("%w: the request is addressed to host '%s', which is not this API's address", ErrBadSignature, r.Host)
}

// claimedHash returns the signed X-Amz-Content-Sha256, "" when the client sent
// none. A malformed claim, a streaming (chunk-signed) payload and an unsigned
// body are refused before anything else is done for the request.
func (v *Verifier) claimedHash(r *http.Request) (string, error) {
	if r.ContentLength > v.maxBody() {
		return "", fmt.Errorf("%w: Content-Length %d is more than %d bytes", ErrBodyTooLarge, r.ContentLength, v.maxBody())
	}
	claimed := r.Header.Get(headerSHA256)
	switch {
	case claimed == "":
		return "", nil
	case claimed == UnsignedPayload && hasBody(r):
		return "", fmt.Errorf("%w: X-Amz-Content-Sha256 UNSIGNED-PAYLOAD is refused on a request with a body; sign the body", ErrMalformed)
	case claimed == UnsignedPayload:
		return claimed, nil
	case strings.HasPrefix(claimed, "STREAMING-"):
		return "", fmt.Errorf("%w: X-Amz-Content-Sha256 %s (chunk-signed payloads) is not supported; sign the whole body", ErrMalformed, claimed)
	}
	if b, err := hex.DecodeString(claimed); err != nil || len(b) != sha256.Size {
		return "", fmt.Errorf("%w: X-Amz-Content-Sha256 must be the hex SHA-256 of the body", ErrMalformed)
	}
	// The claim is the last line of the canonical request whether or not the
	// header itself is signed, so the signature covers it either way.
	return claimed, nil
}

// hasBody reports whether r may carry body bytes.
func hasBody(r *http.Request) bool {
	return r.ContentLength != 0 && r.Body != nil && r.Body != http.NoBody
}

// readBody reads at most MaxBody bytes through SHA-256, puts an equivalent body
// back for the next handler and returns the hex hash.
func (v *Verifier) readBody(r *http.Request) (string, error) {
	h := sha256.New()
	if !hasBody(r) {
		return hexSum(h), nil
	}
	limit := v.maxBody()
	var buf bytes.Buffer
	_, err := io.Copy(io.MultiWriter(&buf, h), io.LimitReader(r.Body, limit+1))
	_ = r.Body.Close()
	if err != nil {
		var maxErr *http.MaxBytesError
		if errors.As(err, &maxErr) {
			return "", fmt.Errorf("%w: reading body: %w", ErrBodyTooLarge, err)
		}
		return "", fmt.Errorf("reading request body: %w", err)
	}
	if int64(buf.Len()) > limit {
		return "", fmt.Errorf("%w: more than %d bytes", ErrBodyTooLarge, limit)
	}
	r.Body = io.NopCloser(bytes.NewReader(buf.Bytes()))
	return hexSum(h), nil
}

func hexSum(h hash.Hash) string { return hex.EncodeToString(h.Sum(nil)) }

// signatureMatches derives the signing key and compares in constant time.
func signatureMatches(a authorization, secret, canonical string) bool {
	hash := sha256.Sum256([]byte(canonical))
	stringToSign := strings.Join([]string{algorithm, a.RawDate, a.Scope(), hex.EncodeToString(hash[:])}, "\n")
	key := SigningKey(secret, a.ScopeDate, a.Region, a.Service)
	want := hex.EncodeToString(hmacSHA256(key, stringToSign))
	return hmac.Equal([]byte(want), []byte(strings.ToLower(a.Signature)))
}

// SigningKey is the SigV4 signing key a secret derives for one day
// (yyyymmdd), region and service. It signs only requests scoped to those, so
// a verifier may be given it in place of the secret (the cells' sign-in
// authenticators are).
func SigningKey(secret, day, region, service string) []byte {
	key := hmacSHA256([]byte("AWS4"+secret), day)
	for _, part := range []string{region, service, scopeTerminal} {
		key = hmacSHA256(key, part)
	}
	return key
}

func hmacSHA256(key []byte, data string) []byte {
	h := hmac.New(sha256.New, key)
	h.Write([]byte(data))
	return h.Sum(nil)
}

func (v *Verifier) service() string {
	if v.Service == "" {
		return DefaultService
	}
	return v.Service
}

func (v *Verifier) now() time.Time {
	if v.Now == nil {
		return time.Now()
	}
	return v.Now()
}

func (v *Verifier) maxSkew() time.Duration {
	if v.MaxSkew <= 0 {
		return DefaultMaxSkew
	}
	return v.MaxSkew
}

func (v *Verifier) maxBody() int64 {
	if v.MaxBody <= 0 {
		return DefaultMaxBody
	}
	return v.MaxBody
}
