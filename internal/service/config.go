package service

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"time"

	"github.com/cellplane/cellplane/internal/ipam"
)

// DefaultAddressBlock is where the embedded default lives: the region on 127.100.0.0/16
// and cell k on 127.(100+k).0.0/16.
const DefaultAddressBlock = "127.100"

// ErrInvalidConfig is wrapped by every configuration error.
var ErrInvalidConfig = errors.New("invalid configuration")

// Config configures a Service.
type Config struct {
	// DataDir holds all state: stores, clusters, certificates and logs.
	DataDir string
	// AddressBlock is "127.N": the loopback /16s the instance uses (see ipam).
	// Empty means the block the data directory was created with, else the default.
	AddressBlock string
	// CacheDir is the component cache; empty means components.DefaultCacheDir().
	CacheDir string
	// LBCommand runs the cell load balancer: a binary and the arguments before
	// "--config-dir". Default: this executable with "lb".
	LBCommand []string
	// CreateTimeout bounds how long a control plane may take to become healthy.
	CreateTimeout time.Duration
	// Logger receives cellplane's own logs; Progress receives build progress.
	Logger   *slog.Logger
	Progress io.Writer
}

// Validate checks the configuration without touching anything.
func (c *Config) Validate() error {
	if c.DataDir == "" {
		return fmt.Errorf("%w: a data directory is required", ErrInvalidConfig)
	}
	if c.AddressBlock != "" {
		if _, err := ipam.ParseBlock(c.AddressBlock, cellCount); err != nil {
			return fmt.Errorf("%w: %w", ErrInvalidConfig, err)
		}
	}
	if c.CreateTimeout < 0 {
		return fmt.Errorf("%w: negative create timeout", ErrInvalidConfig)
	}
	return nil
}

func (c Config) withDefaults() Config {
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.Progress == nil {
		c.Progress = io.Discard
	}
	c.DataDir = filepath.Clean(c.DataDir)
	return c
}

// cellCount is how many cells the embedded default runs.
const cellCount = 1
