package sigv4

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"
)

const (
	// DefaultMaxSkew is how far X-Amz-Date may be from the server's clock, as AWS.
	DefaultMaxSkew = 15 * time.Minute
	// DefaultMaxBody bounds the body read to hash it; EKS requests are small JSON.
	DefaultMaxBody = 1 << 20
	// DefaultService is the signing name of the EKS API.
	DefaultService = "eks"
)

// Verifier checks SigV4 header signatures against a KeyStore. The zero values
// of Service, Now, MaxSkew and MaxBody mean "eks", time.Now, 15 minutes and 1 MiB.
type Verifier struct {
	Keys    KeyStore
	Service string
	Now     func() time.Time
	MaxSkew time.Duration
	MaxBody int64
}

// Verify checks r's signature and returns the credentials that signed it. The
// body is read (up to MaxBody) to hash it and replaced with an equivalent reader,
// so the next handler sees it intact. Errors wrap this package's sentinels,
// except failures of the KeyStore other than ErrUnknownKey, which are returned
// wrapped as they are.
func (v *Verifier) Verify(r *http.Request) (Credentials, error) {
	a, err := parseRequestAuth(r)
	if err != nil {
		return Credentials{}, err
	}
	if err := v.checkScope(a); err != nil {
		return Credentials{}, err
	}
	creds, err := v.Keys.Lookup(r.Context(), a.AccessKeyID)
	if err != nil {
		return Credentials{}, fmt.Errorf("looking up access key: %w", err)
	}
	payloadHash, err := v.payloadHash(r)
	if err != nil {
		return Credentials{}, err
	}
	canonical, err := canonicalRequest(r, a.SignedHeaders, payloadHash)
	if err != nil {
		return Credentials{}, err
	}
	if !signatureMatches(a, creds.SecretAccessKey, canonical) {
		return Credentials{}, fmt.Errorf("%w; check your secret access key and signing method", ErrBadSignature)
	}
	return creds, nil
}

// checkScope rejects a credential scope for another service or day and a date
// outside the allowed skew, before any key is looked up.
func (v *Verifier) checkScope(a authorization) error {
	if a.Service != v.service() {
		return fmt.Errorf("%w: credential should be scoped to correct service: '%s'", ErrBadSignature, v.service())
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

// payloadHash hashes the body (restoring it for the next handler). A client's
// X-Amz-Content-Sha256 is what it signed, so it must equal the real hash: trusting
// it alone would let a body be swapped under a valid signature.
func (v *Verifier) payloadHash(r *http.Request) (string, error) {
	body, err := v.readBody(r)
	if err != nil {
		return "", err
	}
	sum := sha256.Sum256(body)
	actual := hex.EncodeToString(sum[:])
	claimed := r.Header.Get(headerSHA256)
	if claimed == "" {
		return actual, nil
	}
	if !strings.EqualFold(claimed, actual) {
		return "", fmt.Errorf("%w: X-Amz-Content-Sha256 does not match the body (unsigned and streaming payloads are not supported)", ErrBadSignature)
	}
	return claimed, nil
}

// readBody reads at most MaxBody bytes and puts an equivalent body back.
func (v *Verifier) readBody(r *http.Request) ([]byte, error) {
	if r.Body == nil || r.Body == http.NoBody {
		return nil, nil
	}
	limit := v.maxBody()
	body, err := io.ReadAll(io.LimitReader(r.Body, limit+1))
	_ = r.Body.Close()
	if err != nil {
		var maxErr *http.MaxBytesError
		if errors.As(err, &maxErr) {
			return nil, fmt.Errorf("%w: reading body: %w", ErrBodyTooLarge, err)
		}
		return nil, fmt.Errorf("reading request body: %w", err)
	}
	if int64(len(body)) > limit {
		return nil, fmt.Errorf("%w: more than %d bytes", ErrBodyTooLarge, limit)
	}
	r.Body = io.NopCloser(bytes.NewReader(body))
	return body, nil
}

// signatureMatches derives the signing key and compares in constant time.
func signatureMatches(a authorization, secret, canonical string) bool {
	hash := sha256.Sum256([]byte(canonical))
	stringToSign := strings.Join([]string{algorithm, a.RawDate, a.Scope(), hex.EncodeToString(hash[:])}, "\n")
	key := hmacSHA256([]byte("AWS4"+secret), a.ScopeDate)
	for _, part := range []string{a.Region, a.Service, scopeTerminal} {
		key = hmacSHA256(key, part)
	}
	want := hex.EncodeToString(hmacSHA256(key, stringToSign))
	return hmac.Equal([]byte(want), []byte(strings.ToLower(a.Signature)))
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
