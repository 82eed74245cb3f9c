package client

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
)

// Credentials sign requests as the AWS SDKs do (SigV4, service eks).
type Credentials struct {
	AccessKeyID     string
	SecretAccessKey string
	Region          string
}

// WithCredentials returns a copy of c that signs every request with creds.
func (c *Client) WithCredentials(creds Credentials) *Client {
	out := *c
	out.creds = &creds
	return &out
}

// sign adds the SigV4 Authorization header for the EKS API.
func (c *Client) sign(ctx context.Context, req *http.Request) error {
	return c.signFor(ctx, req, "eks")
}

// signFor adds the SigV4 Authorization header, scoped to service; the body
// is hashed and put back.
func (c *Client) signFor(ctx context.Context, req *http.Request, service string) error {
	if c.creds == nil {
		return nil
	}
	var body []byte
	if req.Body != nil {
		var err error
		if body, err = io.ReadAll(req.Body); err != nil {
			return fmt.Errorf("reading request body: %w", err)
		}
		req.Body = io.NopCloser(bytes.NewReader(body))
	}
	sum := sha256.Sum256(body)
	hash := hex.EncodeToString(sum[:])
	// Sent (and signed), the hash lets the server check the signature before
	// it reads the body, as it does for S3 clients.
	req.Header.Set("X-Amz-Content-Sha256", hash)
	creds := aws.Credentials{AccessKeyID: c.creds.AccessKeyID, SecretAccessKey: c.creds.SecretAccessKey}
	if err := v4.NewSigner().SignHTTP(ctx, creds, req, hash, service, c.creds.Region, time.Now()); err != nil {
		return fmt.Errorf("signing request: %w", err)
	}
	return nil
}
