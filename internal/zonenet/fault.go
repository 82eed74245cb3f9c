package zonenet

import (
	"errors"
	"fmt"
	"strings"
	"time"
)

// Kind names a fault.
type Kind string

// The faults a zone can have.
const (
	// KindNone is a healthy zone.
	KindNone Kind = ""
	// KindCut takes the zone's link down: peers get no answer and the
	// zone's own connections to other zones fail at once with no route.
	KindCut Kind = "cut"
	// KindBlackhole drops everything the zone sends to the rest of the
	// cell without a word (no RST, no ICMP): peers see stalled connections
	// and SYN timeouts, while traffic inside the zone still flows.
	KindBlackhole Kind = "blackhole"
	// KindDegrade delays and/or drops the packets the zone sends.
	KindDegrade Kind = "degrade"
)

// maxLatency bounds a degrade fault: each delayed packet waits in memory, so
// a long delay on a busy zone would pin a lot of it.
const maxLatency = 5 * time.Second

// ErrInvalidFault is wrapped by Validate for a fault that cannot be applied.
var ErrInvalidFault = errors.New("invalid fault")

// Fault is the condition injected into one zone's network.
type Fault struct {
	Kind        Kind          `json:"kind,omitempty"`
	Latency     time.Duration `json:"latency,omitempty"`
	LossPercent int           `json:"lossPercent,omitempty"`
}

// Validate reports why f cannot be applied, wrapping ErrInvalidFault.
func (f Fault) Validate() error {
	switch f.Kind {
	case KindNone, KindCut, KindBlackhole:
		if f.Latency != 0 || f.LossPercent != 0 {
			return fmt.Errorf("%w: %s takes no latency or loss", ErrInvalidFault, f.Kind.label())
		}
		return nil
	case KindDegrade:
		return f.validateDegrade()
	default:
		return fmt.Errorf("%w: unknown kind %q (want %q, %q, %q or none)",
			ErrInvalidFault, f.Kind, KindCut, KindBlackhole, KindDegrade)
	}
}

func (f Fault) validateDegrade() error {
	switch {
	case f.Latency < 0 || f.Latency > maxLatency:
		return fmt.Errorf("%w: degrade latency %s is outside (0, %s]", ErrInvalidFault, f.Latency, maxLatency)
	case f.LossPercent < 0 || f.LossPercent > 100:
		return fmt.Errorf("%w: degrade loss %d%% is outside (0, 100]", ErrInvalidFault, f.LossPercent)
	case f.Latency == 0 && f.LossPercent == 0:
		return fmt.Errorf("%w: degrade needs a latency, a loss or both", ErrInvalidFault)
	}
	return nil
}

// String describes f for people: "none", "cut", "degrade: 200ms latency, 20% loss".
func (f Fault) String() string {
	if f.Kind != KindDegrade {
		return f.Kind.label()
	}
	var parts []string
	if f.Latency > 0 {
		parts = append(parts, f.Latency.String()+" latency")
	}
	if f.LossPercent > 0 {
		parts = append(parts, fmt.Sprintf("%d%% loss", f.LossPercent))
	}
	return "degrade: " + strings.Join(parts, ", ")
}

func (k Kind) label() string {
	if k == KindNone {
		return "none"
	}
	return string(k)
}
