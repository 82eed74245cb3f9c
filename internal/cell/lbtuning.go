package cell

import (
	"fmt"
	"strconv"
	"time"

	"github.com/spf13/pflag"

	"github.com/cellplane/cellplane/internal/errdefs"
	"github.com/cellplane/cellplane/internal/lb"
)

// LBLimits are the cell load balancer's connection limits. Zero fields are
// the balancer's own defaults (internal/lb): the flags' zero too, so that a
// cell given no flags runs its balancer with the command line it always had,
// and an existing balancer is adopted, not restarted. Changing a limit
// restarts the cell's balancer once, which cuts every tenant connection
// (clients reconnect).
type LBLimits struct {
	MaxConnections            int
	MaxConnectionsPerEndpoint int
	FirstByteTimeout          time.Duration
}

func defaultLBLimits() LBLimits {
	return LBLimits{MaxConnections: lb.DefaultMaxConnections, FirstByteTimeout: lb.DefaultFirstByteTimeout}
}

func (l LBLimits) withDefaults() LBLimits {
	d := defaultLBLimits()
	if l.MaxConnections == 0 {
		l.MaxConnections = d.MaxConnections
	}
	if l.FirstByteTimeout == 0 {
		l.FirstByteTimeout = d.FirstByteTimeout
	}
	return l
}

func (l *LBLimits) addFlags(f *pflag.FlagSet) {
	f.IntVar(&l.MaxConnections, "lb-max-connections", 0, fmt.Sprintf(
		"client connections the cell's load balancer keeps open on all endpoints together; more are closed at once (0: %d)", lb.DefaultMaxConnections))
	f.IntVar(&l.MaxConnectionsPerEndpoint, "lb-max-connections-per-endpoint", 0, fmt.Sprintf(
		"client connections the load balancer keeps open on one endpoint, at most half of --lb-max-connections (0: %d or a tenth of --lb-max-connections, whichever is smaller)", lb.DefaultMaxConnectionsPerEndpoint))
	f.DurationVar(&l.FirstByteTimeout, "lb-first-byte-timeout", 0, fmt.Sprintf(
		"the load balancer closes a client connection that sends nothing for this long, without dialling an API server (0: %s)", lb.DefaultFirstByteTimeout))
}

// validate applies the balancer's own rules, so that `up` refuses what the
// balancer would refuse at its start.
func (l LBLimits) validate() error {
	l = l.withDefaults()
	c := lb.Config{ConfigDir: ".", MaxConnections: l.MaxConnections,
		MaxConnectionsPerEndpoint: l.MaxConnectionsPerEndpoint, FirstByteTimeout: l.FirstByteTimeout}
	if err := c.Validate(); err != nil {
		return fmt.Errorf("%w: --lb-max-connections, --lb-max-connections-per-endpoint, --lb-first-byte-timeout: %w", errdefs.ErrInvalidConfig, err)
	}
	return nil
}

// args are the flags of `up` and `cell run` that carry what differs from the
// defaults, with the given prefix ("lb-" for a cell, "" for the balancer).
func (l LBLimits) args(prefix string) []string {
	l, d := l.withDefaults(), defaultLBLimits()
	var out []string
	if l.MaxConnections != d.MaxConnections {
		out = append(out, "--"+prefix+"max-connections", strconv.Itoa(l.MaxConnections))
	}
	if l.MaxConnectionsPerEndpoint != d.MaxConnectionsPerEndpoint {
		out = append(out, "--"+prefix+"max-connections-per-endpoint", strconv.Itoa(l.MaxConnectionsPerEndpoint))
	}
	if l.FirstByteTimeout != d.FirstByteTimeout {
		out = append(out, "--"+prefix+"first-byte-timeout", l.FirstByteTimeout.String())
	}
	return out
}
