package sigv4

import (
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
)

// canonicalRequest builds the SigV4 canonical request:
// method, URI, query, headers, signed header list and payload hash, joined by '\n'.
func canonicalRequest(r *http.Request, signed []string, payloadHash string) (string, error) {
	query, err := canonicalQuery(r.URL.RawQuery)
	if err != nil {
		return "", err
	}
	return strings.Join([]string{
		r.Method,
		canonicalURI(r),
		query,
		canonicalHeaders(r, signed),
		strings.Join(signed, ";"),
		payloadHash,
	}, "\n"), nil
}

// canonicalURI encodes the path as sent on the wire once more, as AWS does for
// every service but S3: a segment the client sent as "arn%3Aaws" is signed as
// "arn%253Aaws". The wire form comes from RequestURI because re-encoding the
// decoded path could pick a different (equally valid) escaping than the client.
func canonicalURI(r *http.Request) string {
	path := r.URL.EscapedPath()
	if strings.HasPrefix(r.RequestURI, "/") {
		path, _, _ = strings.Cut(r.RequestURI, "?")
	}
	if path == "" {
		path = "/"
	}
	return uriEncode(path, false)
}

// canonicalQuery sorts the decoded parameters by key, then value, and re-encodes
// them with the RFC 3986 rules, so the client's own escaping does not matter.
func canonicalQuery(raw string) (string, error) {
	values, err := url.ParseQuery(raw)
	if err != nil {
		return "", fmt.Errorf("%w: query string cannot be parsed", ErrMalformed)
	}
	type param struct{ key, value string }
	params := make([]param, 0, len(values))
	for k, vs := range values {
		for _, v := range vs {
			params = append(params, param{uriEncode(k, true), uriEncode(v, true)})
		}
	}
	sort.Slice(params, func(i, j int) bool {
		if params[i].key != params[j].key {
			return params[i].key < params[j].key
		}
		return params[i].value < params[j].value
	})
	out := make([]string, len(params))
	for i, p := range params {
		out[i] = p.key + "=" + p.value
	}
	return strings.Join(out, "&"), nil
}

// canonicalHeaders renders "name:value\n" for each signed header. Go's server
// moves Host and Content-Length out of the header map, so they are read from the
// request fields.
func canonicalHeaders(r *http.Request, signed []string) string {
	var b strings.Builder
	for _, name := range signed {
		b.WriteString(name)
		b.WriteByte(':')
		b.WriteString(strings.Join(headerValues(r, name), ","))
		b.WriteByte('\n')
	}
	return b.String()
}

func headerValues(r *http.Request, name string) []string {
	switch name {
	case "host":
		return []string{trimAll(r.Host)}
	case "content-length":
		if _, ok := r.Header["Content-Length"]; !ok && r.ContentLength >= 0 {
			return []string{strconv.FormatInt(r.ContentLength, 10)}
		}
	}
	values := r.Header.Values(name)
	out := make([]string, len(values))
	for i, v := range values {
		out[i] = trimAll(v)
	}
	return out
}

// trimAll trims the value and collapses runs of spaces, as the signing spec asks
// (spaces only, like the SDK signers, not tabs).
func trimAll(v string) string {
	for strings.Contains(v, "  ") {
		v = strings.ReplaceAll(v, "  ", " ")
	}
	return strings.TrimSpace(v)
}

// uriEncode percent-encodes every byte except the RFC 3986 unreserved characters
// (and '/' unless encodeSlash), with upper-case hex, per the SigV4 spec.
func uriEncode(s string, encodeSlash bool) string {
	const hex = "0123456789ABCDEF"
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if unreserved(c) || (c == '/' && !encodeSlash) {
			b.WriteByte(c)
			continue
		}
		b.WriteByte('%')
		b.WriteByte(hex[c>>4])
		b.WriteByte(hex[c&15])
	}
	return b.String()
}

func unreserved(c byte) bool {
	return 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' ||
		c == '-' || c == '.' || c == '_' || c == '~'
}
