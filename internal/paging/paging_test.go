package paging

import (
	"encoding/base64"
	"errors"
	"testing"

	"github.com/cellplane/cellplane/internal/errdefs"
)

func TestTokenRoundTrip(t *testing.T) {
	for _, last := range []string{"demo", "1.35", "a:b/c", ""} {
		got, ok := DecodeToken(EncodeToken(last))
		if !ok || got != last {
			t.Errorf("DecodeToken(EncodeToken(%q)) = %q, %v", last, got, ok)
		}
	}
}

func TestDecodeTokenRejectsForeignTokens(t *testing.T) {
	for _, token := range []string{"garbage!", base64.RawURLEncoding.EncodeToString([]byte("v2:demo")),
		base64.RawURLEncoding.EncodeToString([]byte("demo")), base64.StdEncoding.EncodeToString([]byte("v1:demo?"))} {
		if last, ok := DecodeToken(token); ok {
			t.Errorf("DecodeToken(%q) accepted it as %q", token, last)
		}
	}
}

func TestParseLimit(t *testing.T) {
	for _, c := range []struct {
		in   string
		want int
	}{{"", 7}, {"1", 1}, {"100", 100}, {"42", 42}} {
		got, err := ParseLimit(c.in, 1, 100, 7)
		if err != nil || got != c.want {
			t.Errorf("ParseLimit(%q) = %d, %v; want %d", c.in, got, err, c.want)
		}
	}
	for _, in := range []string{"0", "101", "x", "-1", "1.5"} {
		_, err := ParseLimit(in, 1, 100, 7)
		var pub *errdefs.PublicError
		if !errors.As(err, &pub) || !errors.Is(err, errdefs.ErrInvalidParameter) {
			t.Errorf("ParseLimit(%q) = %v; want a public invalid-parameter error", in, err)
			continue
		}
		if want := `maxResults must be an integer from 1 to 100; got "` + in + `".`; pub.Msg != want {
			t.Errorf("ParseLimit(%q) says %q; want %q", in, pub.Msg, want)
		}
	}
}

func TestPage(t *testing.T) {
	names := []string{"a", "b", "c", "d", "e"}
	var got []string
	after := ""
	for pages := 0; ; pages++ {
		page, next := Page(names, after, 2)
		if len(page) > 2 || pages > 3 {
			t.Fatalf("page %d: %v", pages, page)
		}
		got = append(got, page...)
		if next == "" {
			break
		}
		last, ok := DecodeToken(next)
		if !ok || last != page[len(page)-1] {
			t.Fatalf("token %q names %q, want %q", next, last, page[len(page)-1])
		}
		after = last
	}
	if len(got) != len(names) {
		t.Fatalf("paged %v, want %v", got, names)
	}
	// A token of a name since removed resumes after where it would stand.
	if page, next := Page([]string{"a", "c"}, "b", 5); len(page) != 1 || page[0] != "c" || next != "" {
		t.Fatalf("after a removed name: %v %q", page, next)
	}
}
