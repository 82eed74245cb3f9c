package sigv4

import (
	"fmt"
	"net/http"
	"strings"
	"time"
)

const (
	algorithm      = "AWS4-HMAC-SHA256"
	amzDateFormat  = "20060102T150405Z"
	scopeDateFmt   = "20060102"
	scopeTerminal  = "aws4_request"
	headerAmzDate  = "X-Amz-Date"
	headerSHA256   = "X-Amz-Content-Sha256"
	headerAuthz    = "Authorization"
	querySignature = "X-Amz-Signature"
	queryAlgorithm = "X-Amz-Algorithm"
	maxAccessKeyID = 128
)

// authorization is the parsed Authorization header plus X-Amz-Date.
type authorization struct {
	AccessKeyID   string
	ScopeDate     string
	Region        string
	Service       string
	SignedHeaders []string
	Signature     string
	Date          time.Time
	RawDate       string
}

// Scope is the credential scope as it appears in the string to sign.
func (a authorization) Scope() string {
	return strings.Join([]string{a.ScopeDate, a.Region, a.Service, scopeTerminal}, "/")
}

// parseRequestAuth extracts the signing fields of a header-signed request.
// Presigned (query-string) requests are rejected: EKS clients never send them and
// accepting them would widen what a leaked URL can do.
func parseRequestAuth(r *http.Request) (authorization, error) {
	header := r.Header.Get(headerAuthz)
	if header == "" {
		q := r.URL.Query()
		if q.Has(querySignature) || q.Has(queryAlgorithm) {
			return authorization{}, fmt.Errorf("%w: presigned query-string authentication is not supported; sign the Authorization header", ErrMalformed)
		}
		return authorization{}, fmt.Errorf("%w: no Authorization header", ErrMissingAuth)
	}
	rawDate := r.Header.Get(headerAmzDate)
	if rawDate == "" {
		return authorization{}, fmt.Errorf("%w: no X-Amz-Date header", ErrMissingAuth)
	}
	a, err := parseAuthorization(header)
	if err != nil {
		return authorization{}, err
	}
	if a.Date, err = time.Parse(amzDateFormat, rawDate); err != nil {
		return authorization{}, fmt.Errorf("%w: X-Amz-Date %q is not in the form YYYYMMDDTHHMMSSZ", ErrMalformed, rawDate)
	}
	a.RawDate = rawDate
	return a, nil
}

// parseAuthorization parses
// "AWS4-HMAC-SHA256 Credential=AKID/date/region/service/aws4_request,
// SignedHeaders=a;b, Signature=hex".
func parseAuthorization(header string) (authorization, error) {
	algo, rest, _ := strings.Cut(strings.TrimSpace(header), " ")
	if algo != algorithm {
		return authorization{}, fmt.Errorf("%w: unsupported algorithm %q; want %s", ErrMalformed, algo, algorithm)
	}
	fields := authFields(rest)
	var a authorization
	for _, name := range []string{"Credential", "SignedHeaders", "Signature"} {
		if fields[name] == "" {
			return authorization{}, fmt.Errorf("%w: Authorization header requires '%s' parameter", ErrMalformed, name)
		}
	}
	if err := a.setCredential(fields["Credential"]); err != nil {
		return authorization{}, err
	}
	if err := a.setSignedHeaders(fields["SignedHeaders"]); err != nil {
		return authorization{}, err
	}
	a.Signature = fields["Signature"]
	return a, nil
}

// authFields splits "k=v, k=v" into a map; parts without '=' are dropped so the
// caller reports the missing parameter by name.
func authFields(s string) map[string]string {
	out := map[string]string{}
	for part := range strings.SplitSeq(s, ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(part), "=")
		if ok {
			out[k] = v
		}
	}
	return out
}

func (a *authorization) setCredential(v string) error {
	parts := strings.Split(v, "/")
	if len(parts) != 5 || parts[4] != scopeTerminal || slicesHasEmpty(parts) {
		return fmt.Errorf("%w: Credential must have the form <AccessKeyID>/<YYYYMMDD>/<region>/<service>/aws4_request", ErrMalformed)
	}
	// IAM's bound; it also bounds what a made-up key may occupy in a cache of
	// unknown keys.
	if len(parts[0]) > maxAccessKeyID {
		return fmt.Errorf("%w: Credential's access key ID is longer than %d characters", ErrMalformed, maxAccessKeyID)
	}
	if _, err := time.Parse(scopeDateFmt, parts[1]); err != nil {
		return fmt.Errorf("%w: Credential scope date %q is not in the form YYYYMMDD", ErrMalformed, parts[1])
	}
	a.AccessKeyID, a.ScopeDate, a.Region, a.Service = parts[0], parts[1], parts[2], parts[3]
	return nil
}

func (a *authorization) setSignedHeaders(v string) error {
	a.SignedHeaders = strings.Split(v, ";")
	signed := map[string]bool{}
	for _, h := range a.SignedHeaders {
		if h == "" || h != strings.ToLower(h) {
			return fmt.Errorf("%w: SignedHeaders %q must be lower-case names separated by ';'", ErrMalformed, v)
		}
		signed[h] = true
	}
	// An unsigned host would let a signature be replayed against another endpoint,
	// an unsigned date would let it be replayed forever.
	for _, required := range []string{"host", "x-amz-date"} {
		if !signed[required] {
			return fmt.Errorf("%w: SignedHeaders must include %s", ErrMalformed, required)
		}
	}
	return nil
}

func slicesHasEmpty(parts []string) bool {
	for _, p := range parts {
		if p == "" {
			return true
		}
	}
	return false
}

// SigningService is the service the credential scope of r's Authorization
// header names ("eks", "kms", "sts"), "" when r carries none or one that does
// not parse. It lets one listener route the services it serves by what the
// client signed for, before any of them verifies anything.
func SigningService(r *http.Request) string {
	header := r.Header.Get(headerAuthz)
	if header == "" {
		return ""
	}
	a, err := parseAuthorization(header)
	if err != nil {
		return ""
	}
	return a.Service
}
