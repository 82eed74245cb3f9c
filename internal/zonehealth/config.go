package zonehealth

import (
	"errors"
	"fmt"
	"time"
)

// ErrInvalidConfig is returned by Config.Validate.
var ErrInvalidConfig = errors.New("invalid zone health config")

// Config tunes a Monitor. Zero fields take the defaults (see WithDefaults).
type Config struct {
	// Interval is the time between rounds. Default 500ms.
	Interval time.Duration
	// Timeout bounds each probe. Default 1s.
	Timeout time.Duration
	// SlowAfter: a probe slower than this and slower than 3x the median
	// latency of the other zones' successful probes in the same round is
	// bad. Default 100ms.
	SlowAfter time.Duration
	// ImpairAfter: a zone becomes impaired when at least this many of its
	// last Window rounds were bad. Default 4.
	ImpairAfter int
	// Window is how many of a zone's rounds are remembered. Default 6.
	Window int
	// HealAfter: an impaired zone becomes healthy after this many
	// consecutive good rounds. Default 20 (10s at the default Interval).
	HealAfter int
	// MaxTargetsPerZone caps the targets probed per zone per round; the
	// rest are probed in later rounds, in turn. Default 6.
	MaxTargetsPerZone int
}

// WithDefaults returns c with its zero fields set to the defaults.
func (c Config) WithDefaults() Config {
	c.Interval = orDefault(c.Interval, 500*time.Millisecond)
	c.Timeout = orDefault(c.Timeout, time.Second)
	c.SlowAfter = orDefault(c.SlowAfter, 100*time.Millisecond)
	c.ImpairAfter = orDefault(c.ImpairAfter, 4)
	c.Window = orDefault(c.Window, 6)
	c.HealAfter = orDefault(c.HealAfter, 20)
	c.MaxTargetsPerZone = orDefault(c.MaxTargetsPerZone, 6)
	return c
}

func orDefault[T comparable](v, def T) T {
	var zero T
	if v == zero {
		return def
	}
	return v
}

// Validate reports whether c, with its defaults, is usable.
func (c Config) Validate() error {
	c = c.WithDefaults()
	switch {
	case c.Interval < 0, c.Timeout < 0, c.SlowAfter < 0:
		return fmt.Errorf("%w: durations must be positive", ErrInvalidConfig)
	case c.ImpairAfter < 0, c.Window < 0, c.HealAfter < 0, c.MaxTargetsPerZone < 0:
		return fmt.Errorf("%w: counts must be positive", ErrInvalidConfig)
	case c.ImpairAfter > c.Window:
		return fmt.Errorf("%w: ImpairAfter %d exceeds Window %d, so no zone could ever be impaired",
			ErrInvalidConfig, c.ImpairAfter, c.Window)
	case c.SlowAfter >= c.Timeout:
		// Every probe that slow times out first, so slowness would go unseen.
		return fmt.Errorf("%w: SlowAfter %s must be below Timeout %s", ErrInvalidConfig, c.SlowAfter, c.Timeout)
	}
	return nil
}
