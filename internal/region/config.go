package region

import (
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"time"

	"github.com/cellplane/cellplane/internal/apiguard"
	"github.com/cellplane/cellplane/internal/backup"
	"github.com/cellplane/cellplane/internal/cell"
	"github.com/cellplane/cellplane/internal/errdefs"
	"github.com/cellplane/cellplane/internal/ipam"
	"github.com/cellplane/cellplane/internal/zonenet"
)

// Config configures a Service.
type Config struct {
	// DataDir holds all state: stores, clusters, certificates and logs.
	DataDir string
	// AddressBlock is "127.N": the loopback /16s the instance uses (see ipam).
	// Empty means the block the data directory was created with, else the default.
	AddressBlock string
	// Cells is how many cells to run, from 1 to MaxCells. Zero means as many as
	// the data directory ran last time, else one. A data directory's cells can be
	// added to but never removed.
	Cells int
	// CacheDir is the component cache; empty means components.DefaultCacheDir().
	CacheDir string
	// CreateTimeout bounds how long a control plane may take to become healthy.
	CreateTimeout time.Duration
	// ZoneNamespaces, when set, puts each zone in its own network namespace
	// (true) or on loopback (false) on a new data directory; nil means as the
	// data directory was created, else loopback. Namespaces need root; they
	// are what zone faults are injected into.
	ZoneNamespaces *bool
	// Backup says where the cells keep clusters' backups.
	Backup backup.Config
	// Tuning adjusts how every cell runs and looks after control planes.
	Tuning cell.Tuning
	// API bounds the regional API's server: timeouts, header size and request
	// rates. The zero value means apiguard.DefaultServing().
	API apiguard.Serving
	// Logger receives cellplane's own logs; Progress receives build progress.
	Logger   *slog.Logger
	Progress io.Writer
}

// Validate checks the configuration without touching anything.
func (c *Config) Validate() error {
	if c.DataDir == "" {
		return fmt.Errorf("%w: a data directory is required", errdefs.ErrInvalidConfig)
	}
	if c.Cells < 0 || c.Cells > MaxCells {
		return fmt.Errorf("%w: cells must be from 1 to %d, got %d", errdefs.ErrInvalidConfig, MaxCells, c.Cells)
	}
	if c.AddressBlock != "" {
		if _, err := ipam.ParseBlock(c.AddressBlock, max(c.Cells, 1)); err != nil {
			return fmt.Errorf("%w: %w", errdefs.ErrInvalidConfig, err)
		}
	}
	if c.CreateTimeout < 0 {
		return fmt.Errorf("%w: negative create timeout", errdefs.ErrInvalidConfig)
	}
	if c.ZoneNamespaces != nil && *c.ZoneNamespaces {
		if err := zonenet.Supported(); err != nil {
			return fmt.Errorf("%w: zone namespaces: %w", errdefs.ErrInvalidConfig, err)
		}
	}
	if err := c.Tuning.Validate(); err != nil {
		return err
	}
	if c.API != (apiguard.Serving{}) {
		if err := c.API.Validate(); err != nil {
			return err
		}
	}
	return c.Backup.Validate()
}

func (c Config) withDefaults() Config {
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.Progress == nil {
		c.Progress = io.Discard
	}
	c.DataDir = filepath.Clean(c.DataDir)
	c.Tuning = c.Tuning.WithDefaults()
	if c.API == (apiguard.Serving{}) {
		c.API = apiguard.DefaultServing()
	}
	return c
}

// MaxCells bounds how many cells one machine runs: each is a store and a process.
const MaxCells = 16
