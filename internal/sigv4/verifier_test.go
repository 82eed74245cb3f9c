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
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
)

var (
	testNow   = time.Date(2026, 3, 14, 12, 0, 0, 0, time.UTC)
	testCreds = Credentials{AccessKeyID: "CPAKTESTTESTTESTTEST", SecretAccessKey: "s3cr3t/with+chars0123456789abcdefghijklm", Account: "123456789012"}
	testARN   = "arn:cellplane:eks:region-1:123456789012:cluster/prod/a b"
)

// recorder is a server running the middleware; it remembers the last error and
// the body and account the next handler saw.
type recorder struct {
	*httptest.Server
	mu      sync.Mutex
	err     error
	body    string
	account string
}

func newRecorder(t *testing.T, now time.Time) *recorder {
	t.Helper()
	rec := &recorder{}
	v := &Verifier{Keys: StaticKeys{testCreds.AccessKeyID: testCreds}, Now: func() time.Time { return now }}
	next := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		account, _ := AccountFrom(r.Context())
		rec.mu.Lock()
		rec.body, rec.account = string(body), account
		rec.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte("{}"))
	})
	onError := func(w http.ResponseWriter, _ *http.Request, err error) {
		rec.mu.Lock()
		rec.err = err
		rec.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusForbidden)
		_, _ = w.Write([]byte(`{"message":"denied"}`))
	}
	rec.Server = httptest.NewServer(v.Middleware(next, onError))
	t.Cleanup(rec.Close)
	return rec
}

// do sends req and returns the verification error (nil on success).
func (rec *recorder) do(t *testing.T, req *http.Request) error {
	t.Helper()
	rec.mu.Lock()
	rec.err, rec.body, rec.account = nil, "", ""
	rec.mu.Unlock()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("sending request: %v", err)
	}
	_ = resp.Body.Close()
	rec.mu.Lock()
	defer rec.mu.Unlock()
	if resp.StatusCode == http.StatusOK && rec.err != nil {
		t.Fatalf("status 200 with error %v", rec.err)
	}
	return rec.err
}

// seen returns what the last request left behind, under the lock the handler
// writes it with.
func (rec *recorder) seen() (body, account string, err error) {
	rec.mu.Lock()
	defer rec.mu.Unlock()
	return rec.body, rec.account, rec.err
}

type signOpts struct {
	creds   Credentials
	service string
	at      time.Time
	sha256H bool
}

func defaults() signOpts {
	return signOpts{creds: testCreds, service: "eks", at: testNow}
}

func newRequest(t *testing.T, method, url, body string) *http.Request {
	t.Helper()
	var r io.Reader
	if body != "" {
		r = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, url, r)
	if err != nil {
		t.Fatalf("new request: %v", err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	return req
}

// sign signs req with the SDK's signer, as every aws-sdk-go-v2 client does.
func sign(t *testing.T, req *http.Request, body string, o signOpts) *http.Request {
	t.Helper()
	sum := sha256.Sum256([]byte(body))
	hash := hex.EncodeToString(sum[:])
	if o.sha256H {
		req.Header.Set("X-Amz-Content-Sha256", hash)
	}
	c := aws.Credentials{AccessKeyID: o.creds.AccessKeyID, SecretAccessKey: o.creds.SecretAccessKey}
	if err := v4.NewSigner().SignHTTP(context.Background(), c, req, hash, o.service, "region-1", o.at); err != nil {
		t.Fatalf("signing: %v", err)
	}
	return req
}

func TestVerifySDKSignedRequests(t *testing.T) {
	rec := newRecorder(t, testNow)
	escapedARN := strings.NewReplacer(":", "%3A", "/", "%2F", " ", "%20").Replace(testARN)
	tests := []struct {
		name, method, path, body string
		sha256H                  bool
	}{
		{name: "GET with query", method: http.MethodGet, path: "/clusters?maxResults=10&include=all&nextToken=a%2Bb%3D"},
		{name: "POST with JSON body", method: http.MethodPost, path: "/clusters", body: `{"name":"prod","version":"1.33"}`},
		{name: "POST with X-Amz-Content-Sha256", method: http.MethodPost, path: "/clusters", body: `{"name":"x"}`, sha256H: true},
		{name: "DELETE with repeated query keys", method: http.MethodDelete, path: "/tags/" + escapedARN + "?tagKeys=b&tagKeys=a&tagKeys=a%20c"},
		{name: "ARN with ':' and '/' in path", method: http.MethodGet, path: "/tags/" + escapedARN},
		{name: "ARN unescaped colons in path", method: http.MethodGet, path: "/tags/arn:cellplane:eks:r:1:cluster%2Fx"},
		{name: "root path", method: http.MethodGet, path: "/"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := defaults()
			o.sha256H = tt.sha256H
			req := sign(t, newRequest(t, tt.method, rec.URL+tt.path, tt.body), tt.body, o)
			if err := rec.do(t, req); err != nil {
				t.Fatalf("Verify: %v", err)
			}
			body, account, _ := rec.seen()
			if body != tt.body {
				t.Errorf("next handler got body %q; want %q", body, tt.body)
			}
			if account != testCreds.Account {
				t.Errorf("account in context = %q; want %q", account, testCreds.Account)
			}
		})
	}
}

func TestVerifyRejects(t *testing.T) {
	rec := newRecorder(t, testNow)
	const body = `{"name":"prod"}`
	post := func(t *testing.T) *http.Request { return newRequest(t, http.MethodPost, rec.URL+"/clusters", body) }
	withOpts := func(f func(*signOpts)) func(t *testing.T) *http.Request {
		return func(t *testing.T) *http.Request {
			o := defaults()
			f(&o)
			return sign(t, post(t), body, o)
		}
	}
	signed := func(mutate func(*http.Request)) func(t *testing.T) *http.Request {
		return func(t *testing.T) *http.Request {
			req := sign(t, post(t), body, defaults())
			mutate(req)
			return req
		}
	}
	tests := []struct {
		name    string
		request func(t *testing.T) *http.Request
		want    error
	}{
		{"unsigned", post, ErrMissingAuth},
		{"no X-Amz-Date", signed(func(r *http.Request) { r.Header.Del("X-Amz-Date") }), ErrMissingAuth},
		{"tampered body", signed(func(r *http.Request) {
			r.Body = io.NopCloser(strings.NewReader(strings.Replace(body, "prod", "evil", 1)))
		}), ErrBadSignature},
		{"tampered signed header", signed(func(r *http.Request) { r.Header.Set("Content-Type", "text/plain") }), ErrBadSignature},
		{"tampered query", signed(func(r *http.Request) { r.URL.RawQuery = "x=1" }), ErrBadSignature},
		{"tampered path", signed(func(r *http.Request) { r.URL.Path = "/clusters/x" }), ErrBadSignature},
		{"wrong secret", withOpts(func(o *signOpts) { o.creds.SecretAccessKey = "wrong" }), ErrBadSignature},
		{"unknown key", withOpts(func(o *signOpts) { o.creds.AccessKeyID = "CPAKUNKNOWNUNKNOWN00" }), ErrUnknownKey},
		{"16 minutes past", withOpts(func(o *signOpts) { o.at = testNow.Add(-16 * time.Minute) }), ErrExpired},
		{"16 minutes future", withOpts(func(o *signOpts) { o.at = testNow.Add(16 * time.Minute) }), ErrExpired},
		{"wrong service", withOpts(func(o *signOpts) { o.service = "s3" }), ErrBadSignature},
		{"X-Amz-Content-Sha256 lies", signed(func(r *http.Request) {
			r.Header.Set("X-Amz-Content-Sha256", strings.Repeat("0", 64))
		}), ErrBadSignature},
		{"presigned URL", func(t *testing.T) *http.Request {
			req := newRequest(t, http.MethodGet, rec.URL+"/clusters", "")
			c := aws.Credentials{AccessKeyID: testCreds.AccessKeyID, SecretAccessKey: testCreds.SecretAccessKey}
			url, _, err := v4.NewSigner().PresignHTTP(context.Background(), c, req, hex.EncodeToString(make([]byte, 32)), "eks", "region-1", testNow)
			if err != nil {
				t.Fatalf("presign: %v", err)
			}
			return newRequest(t, http.MethodGet, url, "")
		}, ErrMalformed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := rec.do(t, tt.request(t))
			if !errors.Is(err, tt.want) {
				t.Fatalf("Verify error = %v; want %v", err, tt.want)
			}
			if strings.Contains(err.Error(), testCreds.SecretAccessKey) {
				t.Errorf("error %q leaks the secret", err)
			}
		})
	}
}

// The scope date must match X-Amz-Date's day even when both are within skew:
// sign just before midnight, then move X-Amz-Date just past it.
func TestVerifyRejectsScopeDateMismatch(t *testing.T) {
	midnight := time.Date(2026, 3, 15, 0, 0, 0, 0, time.UTC)
	rec := newRecorder(t, midnight)
	o := defaults()
	o.at = midnight.Add(-time.Minute)
	req := sign(t, newRequest(t, http.MethodGet, rec.URL+"/clusters", ""), "", o)
	req.Header.Set("X-Amz-Date", midnight.Add(time.Minute).Format(amzDateFormat))
	if err := rec.do(t, req); !errors.Is(err, ErrBadSignature) {
		t.Fatalf("Verify error = %v; want %v", err, ErrBadSignature)
	}
}

func TestVerifyMalformedAuthorization(t *testing.T) {
	const cred = "Credential=CPAKTESTTESTTESTTEST/20260314/region-1/eks/aws4_request"
	const sig = "Signature=" + "ab12"
	tests := map[string]string{
		"wrong algorithm":          "AWS4-HMAC-SHA512 " + cred + ", SignedHeaders=host;x-amz-date, " + sig,
		"no credential":            "AWS4-HMAC-SHA256 SignedHeaders=host;x-amz-date, " + sig,
		"no signed headers":        "AWS4-HMAC-SHA256 " + cred + ", " + sig,
		"no signature":             "AWS4-HMAC-SHA256 " + cred + ", SignedHeaders=host;x-amz-date",
		"short credential":         "AWS4-HMAC-SHA256 Credential=CPAK/20260314/eks/aws4_request, SignedHeaders=host;x-amz-date, " + sig,
		"bad scope terminator":     "AWS4-HMAC-SHA256 Credential=CPAK/20260314/r/eks/aws5_request, SignedHeaders=host;x-amz-date, " + sig,
		"bad scope date":           "AWS4-HMAC-SHA256 Credential=CPAK/2026-03-14/r/eks/aws4_request, SignedHeaders=host;x-amz-date, " + sig,
		"host not signed":          "AWS4-HMAC-SHA256 " + cred + ", SignedHeaders=x-amz-date, " + sig,
		"date not signed":          "AWS4-HMAC-SHA256 " + cred + ", SignedHeaders=host, " + sig,
		"upper-case signed header": "AWS4-HMAC-SHA256 " + cred + ", SignedHeaders=Host;x-amz-date, " + sig,
		"overlong access key ID":   "AWS4-HMAC-SHA256 Credential=" + strings.Repeat("A", 129) + "/20260314/region-1/eks/aws4_request, SignedHeaders=host;x-amz-date, " + sig,
		"garbage":                  "Bearer xyz",
	}
	v := &Verifier{Keys: StaticKeys{testCreds.AccessKeyID: testCreds}, Now: func() time.Time { return testNow }}
	for name, header := range tests {
		t.Run(name, func(t *testing.T) {
			req := httptest.NewRequest(http.MethodGet, "/clusters", nil)
			req.Header.Set("Authorization", header)
			req.Header.Set("X-Amz-Date", testNow.Format(amzDateFormat))
			if _, err := v.Verify(req); !errors.Is(err, ErrMalformed) {
				t.Fatalf("Verify error = %v; want %v", err, ErrMalformed)
			}
		})
	}
	t.Run("bad X-Amz-Date", func(t *testing.T) {
		req := httptest.NewRequest(http.MethodGet, "/clusters", nil)
		req.Header.Set("Authorization", "AWS4-HMAC-SHA256 "+cred+", SignedHeaders=host;x-amz-date, "+sig)
		req.Header.Set("X-Amz-Date", "2026-03-14T12:00:00Z")
		if _, err := v.Verify(req); !errors.Is(err, ErrMalformed) {
			t.Fatalf("Verify error = %v; want %v", err, ErrMalformed)
		}
	})
}

func TestVerifyBodyTooLarge(t *testing.T) {
	body := strings.Repeat("x", 65)
	req := sign(t, httptest.NewRequest(http.MethodPost, "/clusters", strings.NewReader(body)), body, defaults())
	v := &Verifier{Keys: StaticKeys{testCreds.AccessKeyID: testCreds}, Now: func() time.Time { return testNow }, MaxBody: 64}
	if _, err := v.Verify(req); !errors.Is(err, ErrBodyTooLarge) {
		t.Fatalf("Verify error = %v; want %v", err, ErrBodyTooLarge)
	}
}

// A KeyStore failure other than an unknown key is passed through, not disguised
// as a client error.
func TestVerifyKeyStoreFailure(t *testing.T) {
	boom := errors.New("store down")
	req := sign(t, httptest.NewRequest(http.MethodGet, "/clusters", nil), "", defaults())
	v := &Verifier{Keys: failingKeys{boom}, Now: func() time.Time { return testNow }}
	_, err := v.Verify(req)
	if !errors.Is(err, boom) || errors.Is(err, ErrUnknownKey) {
		t.Fatalf("Verify error = %v; want %v only", err, boom)
	}
}

type failingKeys struct{ err error }

func (f failingKeys) Lookup(context.Context, string) (Credentials, error) {
	return Credentials{}, f.err
}

func TestAccountFromEmptyContext(t *testing.T) {
	if account, ok := AccountFrom(context.Background()); ok {
		t.Fatalf("AccountFrom(empty) = %q, true; want false", account)
	}
}
