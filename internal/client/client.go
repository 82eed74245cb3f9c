package client

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"

	"github.com/cellplane/cellplane/internal/eks"
)

// maxResponseBytes bounds what the client reads of one response.
const maxResponseBytes = 8 << 20

// Client calls one region's API.
type Client struct {
	endpoint string
	http     *http.Client
	creds    *Credentials // nil: unsigned, for servers without a verifier
}

// New returns a client of the API at endpoint (for example https://127.0.0.1:8443).
// httpClient carries the TLS configuration that trusts the region's CA; nil means
// http.DefaultClient.
func New(endpoint string, httpClient *http.Client) *Client {
	if httpClient == nil {
		httpClient = http.DefaultClient
	}
	return &Client{endpoint: strings.TrimRight(endpoint, "/"), http: httpClient}
}

// call sends one request and decodes a 200 body into out. Any other status
// becomes an *eks.APIError.
func (c *Client) call(ctx context.Context, method, path string, query url.Values, in, out any) error {
	req, err := c.newRequest(ctx, method, path, query, in)
	if err != nil {
		return err
	}
	return c.send(req, out)
}

// send sends a built and signed request and decodes a 200 answer into out
// (nil: the body is dropped), any other status into an error.
func (c *Client) send(req *http.Request, out any) error {
	resp, err := c.http.Do(req)
	if err != nil {
		return err
	}
	defer func() { _ = resp.Body.Close() }() // read only: ReadAll reports what went wrong
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxResponseBytes))
	if err != nil {
		return fmt.Errorf("reading response: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		return decodeError(resp, body)
	}
	if out == nil {
		return nil
	}
	if err := json.Unmarshal(body, out); err != nil {
		return fmt.Errorf("decoding response: %w", err)
	}
	return nil
}

// newRequest builds a request with a JSON body when in is not nil.
func (c *Client) newRequest(ctx context.Context, method, path string, query url.Values, in any) (*http.Request, error) {
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return nil, fmt.Errorf("encoding request: %w", err)
		}
		body = bytes.NewReader(b)
	}
	u := c.endpoint + path
	if len(query) > 0 {
		u += "?" + query.Encode()
	}
	req, err := http.NewRequestWithContext(ctx, method, u, body)
	if err != nil {
		return nil, fmt.Errorf("building request: %w", err)
	}
	req.Header.Set("Accept", "application/json")
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	return req, c.sign(ctx, req)
}

// decodeError reads an error response the way the AWS SDKs do: the type from
// the X-Amzn-ErrorType header, else from the body's "__type" or "code", each
// cut to the bare name. Responses that are not EKS errors (a proxy's 502 page)
// still become an APIError, typed by their status.
func decodeError(resp *http.Response, body []byte) error {
	var b struct {
		Type    string `json:"__type"`
		Code    string `json:"code"`
		Message string `json:"message"`
	}
	if json.Unmarshal(body, &b) != nil {
		b.Message = strings.TrimSpace(string(body))
	}
	e := &eks.APIError{Status: resp.StatusCode, Message: b.Message}
	e.Type = firstNonEmpty(resp.Header.Get(eks.HeaderErrorType), b.Type, b.Code)
	e.Type = sanitizeErrorType(e.Type)
	if e.Type == "" {
		e.Type = typeForStatus(resp.StatusCode)
	}
	if e.Message == "" {
		e.Message = http.StatusText(resp.StatusCode)
	}
	return e
}

// sanitizeErrorType drops what AWS services append or prepend to the type: a
// ":<url>" suffix and a "<namespace>#" prefix.
func sanitizeErrorType(t string) string {
	t, _, _ = strings.Cut(t, ":")
	if _, after, ok := strings.Cut(t, "#"); ok {
		t = after
	}
	return t
}

func typeForStatus(status int) string {
	if status >= 500 {
		return eks.ServerException
	}
	return eks.ClientException
}

func firstNonEmpty(s ...string) string {
	for _, v := range s {
		if v != "" {
			return v
		}
	}
	return ""
}
