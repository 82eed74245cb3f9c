package api

import (
	"net"
	"net/http"

	"github.com/cellplane/cellplane/internal/ratelimit"
	"github.com/cellplane/cellplane/internal/sigv4"
)

// guard puts the protections in front of the routes, cheapest first: the
// source's rate before anything is parsed, the signature (headers, key,
// then body) next, and the account's rate once the account is proven, so
// that nobody can spend another account's requests by naming its key.
func (s *server) guard(cfg Config, routes http.Handler) http.Handler {
	h := routes
	if cfg.Verifier != nil {
		h = cfg.Verifier.Middleware(s.limitAccount(cfg.Limiter, h), s.authError)
	}
	return s.limitSource(cfg.Limiter, h)
}

func (s *server) limitSource(l *ratelimit.Limiter, next http.Handler) http.Handler {
	if l == nil {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := l.AllowSource(sourceOf(r)); err != nil {
			s.writeError(w, r, err)
			return
		}
		next.ServeHTTP(w, r)
	})
}

func (s *server) limitAccount(l *ratelimit.Limiter, next http.Handler) http.Handler {
	if l == nil {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		account, _ := sigv4.AccountFrom(r.Context())
		if err := l.AllowAccount(account); err != nil {
			s.writeError(w, r, err)
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
