package account

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"

	"github.com/cellplane/cellplane/internal/sigv4"
)

// TestVerifierUsesStore signs with a freshly created key and verifies through
// the store, the path every regional API request will take.
func TestVerifierUsesStore(t *testing.T) {
	ctx := context.Background()
	s, _ := newStore(t)
	a, k, err := s.CreateAccount(ctx, "a")
	if err != nil {
		t.Fatalf("CreateAccount: %v", err)
	}
	req := httptest.NewRequest("GET", "/clusters", nil)
	empty := sha256.Sum256(nil)
	creds := aws.Credentials{AccessKeyID: k.AccessKeyID, SecretAccessKey: k.SecretAccessKey}
	if err := v4.NewSigner().SignHTTP(ctx, creds, req, hex.EncodeToString(empty[:]), "eks", "region-1", time.Now()); err != nil {
		t.Fatalf("signing: %v", err)
	}
	got, err := (&sigv4.Verifier{Keys: s}).Verify(req)
	if err != nil || got.Account != a.ID {
		t.Fatalf("Verify = %+v, %v; want account %s", got.Account, err, a.ID)
	}
}
