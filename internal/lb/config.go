package lb

import (
	"errors"
	"fmt"
	"log/slog"
	"time"
)

// DefaultReloadInterval is how often the config directory is polled.
const DefaultReloadInterval = 500 * time.Millisecond

// Config configures a Balancer.
type Config struct {
	// ConfigDir holds one <id>.json file (an EndpointConfig) per endpoint.
	ConfigDir string
	// StatusAddr, when set, serves GET /status and GET /healthz.
	StatusAddr string
	// ReloadInterval is how often ConfigDir is polled; zero means
	// DefaultReloadInterval.
	ReloadInterval time.Duration
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
	return nil
}

func (c Config) withDefaults() Config {
	if c.ReloadInterval == 0 {
		c.ReloadInterval = DefaultReloadInterval
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return c
}
