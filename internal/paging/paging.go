package paging

import (
	"encoding/base64"
	"slices"
	"strconv"
	"strings"

	"github.com/cellplane/cellplane/internal/errdefs"
)

// tokenPrefix versions the nextToken format, so it can change without old tokens
// being misread.
const tokenPrefix = "v1:"

// EncodeToken returns the nextToken of a page whose last item is last.
func EncodeToken(last string) string {
	return base64.RawURLEncoding.EncodeToString([]byte(tokenPrefix + last))
}

// DecodeToken returns the last item a token EncodeToken made names; ok is
// false for anything else. Callers check that the item still makes sense and
// word the error, which names their operation.
func DecodeToken(token string) (last string, ok bool) {
	raw, err := base64.RawURLEncoding.DecodeString(token)
	if err != nil {
		return "", false
	}
	return strings.CutPrefix(string(raw), tokenPrefix)
}

// ParseLimit reads a maxResults parameter within [lo, hi], def when absent.
func ParseLimit(v string, lo, hi, def int) (int, error) {
	if v == "" {
		return def, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < lo || n > hi {
		return 0, errdefs.Publicf(errdefs.ErrInvalidParameter, "maxResults must be an integer from %d to %d; got %q.", lo, hi, v)
	}
	return n, nil
}

// Page returns up to limit of the sorted names after the name after ("" for
// the first page), and the nextToken of the following page when there is one.
func Page(names []string, after string, limit int) ([]string, string) {
	start := 0
	if after != "" {
		i, found := slices.BinarySearch(names, after)
		if found {
			i++
		}
		start = i
	}
	end := min(start+limit, len(names))
	page := names[start:end]
	if end == len(names) || len(page) == 0 {
		return page, ""
	}
	return page, EncodeToken(page[len(page)-1])
}
