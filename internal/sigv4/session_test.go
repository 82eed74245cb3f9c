package sigv4

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
)

// tokens is a SessionOpener over fixed tokens, each for one credential.
type tokens map[string]Credentials

func (t tokens) OpenSession(akid, token string) (Credentials, error) {
	if token == "expired" {
		return Credentials{}, fmt.Errorf("token: %w", ErrExpiredToken)
	}
	c, ok := t[token]
	if !ok {
		return Credentials{}, fmt.Errorf("token: %w", ErrUnknownKey)
	}
	return c, nil
}

func TestVerifyTemporaryCredentials(t *testing.T) {
	session := Credentials{AccessKeyID: "CPASTESTTESTTESTTEST", SecretAccessKey: "temporary", Account: "123456789012",
		Principal: "arn:aws:sts::123456789012:assumed-role/deploy/s1"}
	other := Credentials{AccessKeyID: "CPASOTHEROTHEROTHER0", SecretAccessKey: "temporary", Account: "123456789012"}
	opener := tokens{"good": session, "other": other}
	keys := StaticKeys{testCreds.AccessKeyID: testCreds}
	tests := []struct {
		name     string
		sessions SessionOpener
		creds    Credentials
		token    string
		want     error
	}{
		{name: "valid", sessions: opener, creds: session, token: "good"},
		{name: "token of another key", sessions: opener, creds: session, token: "other", want: ErrUnknownKey},
		{name: "unknown token", sessions: opener, creds: session, token: "forged", want: ErrUnknownKey},
		{name: "expired token", sessions: opener, creds: session, token: "expired", want: ErrExpiredToken},
		{name: "wrong secret", sessions: opener, creds: Credentials{AccessKeyID: session.AccessKeyID, SecretAccessKey: "x"}, token: "good", want: ErrBadSignature},
		{name: "no sessions accepted", creds: session, token: "good", want: ErrUnknownKey},
		{name: "long-term key with a token", sessions: opener, creds: testCreds, token: "good", want: ErrUnknownKey},
		{name: "temporary key without its token", sessions: opener, creds: session, want: ErrUnknownKey},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := httptest.NewRequest(http.MethodGet, "https://api.test/clusters", nil)
			c := aws.Credentials{AccessKeyID: tt.creds.AccessKeyID, SecretAccessKey: tt.creds.SecretAccessKey, SessionToken: tt.token}
			if err := v4.NewSigner().SignHTTP(context.Background(), c, req, hashOf(""), "eks", "region-1", testNow); err != nil {
				t.Fatal(err)
			}
			v := &Verifier{Keys: keys, Sessions: tt.sessions, Now: func() time.Time { return testNow }}
			var seen string
			next := http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) { seen, _ = PrincipalFrom(r.Context()) })
			var got error
			v.Middleware(next, func(_ http.ResponseWriter, _ *http.Request, err error) { got = err }).ServeHTTP(httptest.NewRecorder(), req)
			if tt.want == nil {
				if got != nil || seen != session.Principal {
					t.Fatalf("error %v, principal %q; want none and %q", got, seen, session.Principal)
				}
				return
			}
			if !errors.Is(got, tt.want) {
				t.Fatalf("error %v; want %v", got, tt.want)
			}
		})
	}
}

func TestSigningService(t *testing.T) {
	req := httptest.NewRequest(http.MethodPost, "https://api.test/", nil)
	if s := SigningService(req); s != "" {
		t.Fatalf("unsigned: %q", s)
	}
	sign(t, req, "", signOpts{creds: testCreds, service: "sts", at: testNow})
	if s := SigningService(req); s != "sts" {
		t.Fatalf("signed for sts: %q", s)
	}
}
