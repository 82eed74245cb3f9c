package apiguard

import (
	"fmt"
	"net/http"
	"time"

	"github.com/spf13/pflag"

	"github.com/cellplane/cellplane/internal/errdefs"
	"github.com/cellplane/cellplane/internal/ratelimit"
)

// Serving bounds what one client can take from the regional API's HTTP
// server: how long it may hold a connection without sending, how large its
// headers may be, and how many requests it may send. The body bound is the
// verifier's (sigv4.Verifier.MaxBody).
type Serving struct {
	// ReadHeaderTimeout bounds a request's headers from its first byte, and a
	// new connection's TLS handshake; a client trickling its headers is cut
	// off then.
	ReadHeaderTimeout time.Duration
	// ReadTimeout bounds reading a whole request, body included.
	ReadTimeout time.Duration
	// WriteTimeout bounds a request from the end of its headers to the end of
	// the response: the handler and the write.
	WriteTimeout time.Duration
	// IdleTimeout closes a kept-alive connection that sends no new request.
	// Above the AWS SDKs' own idle timeout (90 s), so a client never sends on
	// a connection the server is closing.
	IdleTimeout time.Duration
	// MaxHeaderBytes bounds the request line and headers.
	MaxHeaderBytes int
	// Limits are the per-account and per-source request rates.
	Limits ratelimit.Config
}

// Defaults of Serving.
const (
	DefaultReadHeaderTimeout = 10 * time.Second
	DefaultReadTimeout       = 30 * time.Second
	DefaultWriteTimeout      = 60 * time.Second
	DefaultIdleTimeout       = 120 * time.Second
	// DefaultMaxHeaderBytes fits the longest request EKS clients send (an
	// UntagResource of 50 escaped keys, about 20 KiB) with room to spare.
	DefaultMaxHeaderBytes = 64 << 10
)

// DefaultServing returns the defaults.
func DefaultServing() Serving {
	return Serving{ReadHeaderTimeout: DefaultReadHeaderTimeout, ReadTimeout: DefaultReadTimeout,
		WriteTimeout: DefaultWriteTimeout, IdleTimeout: DefaultIdleTimeout,
		MaxHeaderBytes: DefaultMaxHeaderBytes, Limits: ratelimit.Default()}
}

// AddFlags registers the flags worth changing, with the defaults as values.
func (s *Serving) AddFlags(f *pflag.FlagSet) {
	*s = DefaultServing()
	f.DurationVar(&s.ReadHeaderTimeout, "api-read-header-timeout", s.ReadHeaderTimeout,
		"the regional API closes a connection whose TLS handshake or request headers take longer")
	f.DurationVar(&s.IdleTimeout, "api-idle-timeout", s.IdleTimeout,
		"the regional API closes a kept-alive connection idle this long")
	f.Float64Var(&s.Limits.AccountRate, "api-account-rate", s.Limits.AccountRate,
		"requests per second each account may make to the regional API (0: no limit)")
	f.IntVar(&s.Limits.AccountBurst, "api-account-burst", s.Limits.AccountBurst,
		"requests an account may make at once before --api-account-rate applies")
	f.Float64Var(&s.Limits.SourceRate, "api-source-rate", s.Limits.SourceRate,
		"requests per second each source address may make to the regional API, signed or not (0: no limit)")
	f.IntVar(&s.Limits.SourceBurst, "api-source-burst", s.Limits.SourceBurst,
		"requests a source address may make at once before --api-source-rate applies")
}

// Validate refuses bounds that would leave the server unprotected.
func (s Serving) Validate() error {
	for name, d := range map[string]time.Duration{"read header": s.ReadHeaderTimeout, "read": s.ReadTimeout,
		"write": s.WriteTimeout, "idle": s.IdleTimeout} {
		if d <= 0 {
			return fmt.Errorf("%w: the regional API's %s timeout must be above 0, got %s", errdefs.ErrInvalidConfig, name, d)
		}
	}
	if s.MaxHeaderBytes < 4<<10 {
		return fmt.Errorf("%w: the regional API's header limit must be at least 4 KiB, got %d bytes", errdefs.ErrInvalidConfig, s.MaxHeaderBytes)
	}
	if err := s.Limits.Validate(); err != nil {
		return fmt.Errorf("%w: %w", errdefs.ErrInvalidConfig, err)
	}
	return nil
}

// Server returns an http.Server for h with these bounds. It speaks HTTP/1.1
// only: its timeouts then hold per connection and per request as written
// above, where HTTP/2 would multiplex streams past the header and idle
// timeouts; EKS clients need nothing HTTP/2 gives.
func (s Serving) Server(h http.Handler) *http.Server {
	var protocols http.Protocols
	protocols.SetHTTP1(true)
	return &http.Server{
		Handler:           h,
		ReadHeaderTimeout: s.ReadHeaderTimeout,
		ReadTimeout:       s.ReadTimeout,
		WriteTimeout:      s.WriteTimeout,
		IdleTimeout:       s.IdleTimeout,
		MaxHeaderBytes:    s.MaxHeaderBytes,
		Protocols:         &protocols,
	}
}
