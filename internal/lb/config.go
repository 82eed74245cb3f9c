package lb

import (
	"errors"
	"fmt"
	"log/slog"
	"time"
)

// DefaultReloadInterval is how often the config directory is polled.
const DefaultReloadInterval = 500 * time.Millisecond

// Connection limits, applied to zero fields of Config. The per-endpoint cap
// is a tenth of the total so that one endpoint flooded with connections
// leaves the other endpoints nine tenths of the balancer.
const (
	DefaultMaxConnections            = 20000
	DefaultMaxConnectionsPerEndpoint = 2000
	// DefaultFirstByteTimeout is how long a client may stay silent after
	// connecting. Every client of a kube-apiserver speaks TLS, and a TLS
	// client sends its ClientHello at once.
	DefaultFirstByteTimeout = 5 * time.Second
)

// Config configures a Balancer.
type Config struct {
	// ConfigDir holds one <id>.json file (an EndpointConfig) per endpoint.
	ConfigDir string
	// StatusAddr, when set, serves GET /status and GET /healthz over the
	// mutual TLS of StatusTLS, which it then requires.
	StatusAddr string
	StatusTLS  StatusTLS
	// ReloadInterval is how often ConfigDir is polled; zero means
	// DefaultReloadInterval.
	ReloadInterval time.Duration
	// MaxConnections caps the client connections open on all endpoints
	// together; zero means DefaultMaxConnections. Connections over a cap are
	// accepted and closed at once, and counted in the endpoint's status.
	MaxConnections int
	// MaxConnectionsPerEndpoint caps one endpoint's client connections; zero
	// means DefaultMaxConnectionsPerEndpoint or a tenth of MaxConnections,
	// whichever is smaller. It may be at most half of MaxConnections, so that
	// no single endpoint can take them all.
	MaxConnectionsPerEndpoint int
	// FirstByteTimeout closes a client connection that sends nothing for
	// that long after connecting; zero means DefaultFirstByteTimeout. No
	// backend is dialled before the client's first bytes arrive.
	FirstByteTimeout time.Duration
	// Logger receives state changes only; nil discards them.
	Logger *slog.Logger
}

// ErrInvalidConfig is wrapped by every configuration validation error.
var ErrInvalidConfig = errors.New("invalid load balancer config")

// Validate reports whether c can start a Balancer.
func (c *Config) Validate() error {
	if c.ConfigDir == "" {
		return fmt.Errorf("%w: ConfigDir is required", ErrInvalidConfig)
	}
	if c.ReloadInterval < 0 {
		return fmt.Errorf("%w: negative ReloadInterval %s", ErrInvalidConfig, c.ReloadInterval)
	}
	if c.MaxConnections < 0 || c.MaxConnectionsPerEndpoint < 0 || c.FirstByteTimeout < 0 {
		return fmt.Errorf("%w: max connections (%d), max connections per endpoint (%d) and first-byte timeout (%s) must not be negative",
			ErrInvalidConfig, c.MaxConnections, c.MaxConnectionsPerEndpoint, c.FirstByteTimeout)
	}
	if c.StatusAddr != "" {
		if err := c.StatusTLS.validate(); err != nil {
			return err
		}
	}
	d := c.withDefaults()
	if d.MaxConnections < 2 || d.MaxConnectionsPerEndpoint > d.MaxConnections/2 {
		return fmt.Errorf("%w: max connections per endpoint (%d) must be at most half of max connections (%d), so that one endpoint cannot take them all",
			ErrInvalidConfig, d.MaxConnectionsPerEndpoint, d.MaxConnections)
	}
	return nil
}

func (c Config) withDefaults() Config {
	if c.ReloadInterval == 0 {
		c.ReloadInterval = DefaultReloadInterval
	}
	c.MaxConnections = orDefault(c.MaxConnections, DefaultMaxConnections)
	c.MaxConnectionsPerEndpoint = orDefault(c.MaxConnectionsPerEndpoint,
		max(1, min(DefaultMaxConnectionsPerEndpoint, c.MaxConnections/10)))
	c.FirstByteTimeout = orDefault(c.FirstByteTimeout, DefaultFirstByteTimeout)
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return c
}
