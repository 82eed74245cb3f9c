package apiguard

import (
	"net"
	"net/http"

	"github.com/cellplane/cellplane/internal/ratelimit"
	"github.com/cellplane/cellplane/internal/sigv4"
)

// ErrorWriter answers a refused request; the API maps the error to its wire
// error.
type ErrorWriter func(w http.ResponseWriter, r *http.Request, err error)

// Guard puts the protections in front of routes, cheapest first: the
// source's rate before anything is parsed, the signature (headers, key,
// then body) next, and the account's rate once the account is proven, so
// that nobody can spend another account's requests by naming its key. A nil
// verifier or limiter leaves that step out.
func Guard(routes http.Handler, v *sigv4.Verifier, l *ratelimit.Limiter, refuse ErrorWriter) http.Handler {
	h := routes
	if v != nil {
		h = v.Middleware(limitAccount(l, h, refuse), refuse)
	}
	return limitSource(l, h, refuse)
}

func limitSource(l *ratelimit.Limiter, next http.Handler, refuse ErrorWriter) http.Handler {
	if l == nil {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := l.AllowSource(sourceOf(r)); err != nil {
			refuse(w, r, err)
			return
		}
		next.ServeHTTP(w, r)
	})
}

func limitAccount(l *ratelimit.Limiter, next http.Handler, refuse ErrorWriter) http.Handler {
	if l == nil {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		account, _ := sigv4.AccountFrom(r.Context())
		if err := l.AllowAccount(account); err != nil {
			refuse(w, r, err)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// sourceOf is the client's address without its port: one client's many
// connections share a bucket.
func sourceOf(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}
