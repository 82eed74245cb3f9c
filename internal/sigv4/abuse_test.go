package sigv4

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
)

// countingBody records whether anything read the body.
type countingBody struct {
	io.Reader
	read atomic.Int64
}

func (b *countingBody) Read(p []byte) (int, error) {
	n, err := b.Reader.Read(p)
	b.read.Add(int64(n))
	return n, err
}

func (b *countingBody) Close() error { return nil }

// signFor signs req for region with the signed X-Amz-Content-Sha256 header
// claiming claim, as the S3 signers do.
func signFor(t *testing.T, req *http.Request, creds Credentials, region, claim string) {
	t.Helper()
	req.Header.Set("X-Amz-Content-Sha256", claim)
	c := aws.Credentials{AccessKeyID: creds.AccessKeyID, SecretAccessKey: creds.SecretAccessKey}
	if err := v4.NewSigner().SignHTTP(context.Background(), c, req, claim, "eks", region, testNow); err != nil {
		t.Fatalf("signing: %v", err)
	}
}

func hashOf(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}

func abuseVerifier(keys KeyStore) *Verifier {
	return &Verifier{Keys: keys, Region: "region-1", Hosts: []string{"api.test:8443"}, Now: func() time.Time { return testNow }, MaxBody: 64}
}

// Requests that fail on their headers are refused without reading one byte of
// their body; a body that does not match its signed hash fails the request.
func TestVerifyHeadersBeforeBody(t *testing.T) {
	const body = `{"name":"prod"}`
	other := Credentials{AccessKeyID: "CPAKOTHEROTHEROTHER0", SecretAccessKey: "x", Account: "210987654321"}
	keys := StaticKeys{testCreds.AccessKeyID: testCreds, other.AccessKeyID: {AccessKeyID: other.AccessKeyID, SecretAccessKey: "y"}}
	tests := []struct {
		name     string
		creds    Credentials
		region   string
		host     string
		claim    string
		sent     string // the body on the wire; body when empty
		length   int64  // Content-Length to announce; len(sent) when zero
		want     error
		wantRead bool
	}{
		{name: "valid, signed hash", creds: testCreds, region: "region-1", claim: hashOf(body), want: nil, wantRead: true},
		{name: "unknown key", creds: Credentials{AccessKeyID: "CPAKUNKNOWNUNKNOWN00", SecretAccessKey: "x"}, region: "region-1", claim: hashOf(body), want: ErrUnknownKey},
		{name: "key without account", creds: other, region: "region-1", claim: hashOf(body), want: ErrUnknownKey},
		{name: "wrong secret", creds: Credentials{AccessKeyID: testCreds.AccessKeyID, SecretAccessKey: "wrong"}, region: "region-1", claim: hashOf(body), want: ErrBadSignature},
		{name: "other region", creds: testCreds, region: "us-west-2", claim: hashOf(body), want: ErrBadSignature},
		{name: "other host", creds: testCreds, region: "region-1", host: "evil.test:8443", claim: hashOf(body), want: ErrBadSignature},
		{name: "announced too large", creds: testCreds, region: "region-1", claim: hashOf(body), length: 65, sent: strings.Repeat("x", 65), want: ErrBodyTooLarge},
		{name: "unsigned payload with a body", creds: testCreds, region: "region-1", claim: UnsignedPayload, want: ErrMalformed},
		{name: "streaming payload", creds: testCreds, region: "region-1", claim: "STREAMING-AWS4-HMAC-SHA256-PAYLOAD", want: ErrMalformed},
		{name: "malformed claim", creds: testCreds, region: "region-1", claim: "abc", want: ErrMalformed},
		{name: "body swapped under a signed hash", creds: testCreds, region: "region-1", claim: hashOf(body), sent: strings.Replace(body, "prod", "evil", 1), want: ErrBadSignature, wantRead: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sent := tt.sent
			if sent == "" {
				sent = body
			}
			host := tt.host
			if host == "" {
				host = "api.test:8443"
			}
			req := httptest.NewRequest(http.MethodPost, "https://"+host+"/clusters", strings.NewReader(body))
			signFor(t, req, tt.creds, tt.region, tt.claim)
			wire := &countingBody{Reader: strings.NewReader(sent)}
			req.Body = wire
			req.ContentLength = int64(len(sent))
			if tt.length != 0 {
				req.ContentLength = tt.length
			}
			creds, err := abuseVerifier(keys).Verify(req)
			if !errors.Is(err, tt.want) || (tt.want == nil && err != nil) {
				t.Fatalf("Verify error = %v; want %v", err, tt.want)
			}
			if read := wire.read.Load() > 0; read != tt.wantRead {
				t.Errorf("body read = %v; want %v", read, tt.wantRead)
			}
			if tt.want == nil {
				got, _ := io.ReadAll(req.Body)
				if string(got) != body || creds.Account != testCreds.Account {
					t.Errorf("next handler gets body %q, account %q", got, creds.Account)
				}
			}
		})
	}
}

// UNSIGNED-PAYLOAD leaves nothing unsigned on a request without a body, so it
// is accepted there.
func TestVerifyUnsignedPayloadWithoutBody(t *testing.T) {
	req := httptest.NewRequest(http.MethodGet, "https://api.test:8443/clusters", nil)
	signFor(t, req, testCreds, "region-1", UnsignedPayload)
	if _, err := abuseVerifier(StaticKeys{testCreds.AccessKeyID: testCreds}).Verify(req); err != nil {
		t.Fatalf("Verify: %v", err)
	}
}

// The region message is AWS's own, which users find answers for.
func TestVerifyRegionMessage(t *testing.T) {
	req := httptest.NewRequest(http.MethodGet, "https://api.test:8443/clusters", nil)
	signFor(t, req, testCreds, "us-west-2", hashOf(""))
	_, err := abuseVerifier(StaticKeys{testCreds.AccessKeyID: testCreds}).Verify(req)
	if !errors.Is(err, ErrBadSignature) || !strings.Contains(err.Error(), "Credential should be scoped to a valid region, not 'us-west-2'") {
		t.Fatalf("Verify error = %v", err)
	}
}
