package zonehealth

import (
	"fmt"
	"log/slog"
	"sync"
	"time"
)

// Source returns the cell's current targets. The Monitor calls it every
// round, so targets may come and go. An impaired zone heals only on good
// probes, so its canary should stay listed while the zone is evacuated.
type Source func() []Target

// ZoneState is one zone's health, for status and the CLI.
type ZoneState struct {
	Zone     string
	Impaired bool
	// Since is when the zone last became impaired or healthy, or was first
	// probed.
	Since time.Time
	// BadRounds is how many of the zone's last Window rounds were bad.
	BadRounds int
	// The figures of the latest round the zone was probed in.
	LastP50     time.Duration // of the successful probes
	LastErrors  int           // probes that failed other than by refusal
	LastRefused int           // probes refused: a component down, not the zone
	LastProbes  int           // all probes, refused ones included
	// Reason explains the latest decision, e.g. "4 of the last 6 rounds
	// bad: 3 of 3 probes timed out"; empty when there is nothing to explain.
	Reason string
}

// Monitor probes a cell's zones round after round and keeps the verdict: at
// most one zone impaired at a time.
type Monitor struct {
	cfg   Config
	src   Source
	probe Probe
	now   func() time.Time

	next map[string]int // per zone, where the next round's rotation starts; Run's alone

	mu      sync.Mutex
	det     *detector
	changed chan struct{} // closed and replaced on every change of Impaired
}

// New returns a Monitor; Run starts it. Zero fields of cfg take their
// defaults. New panics on a config that fails Validate, which callers check
// when they read it.
func New(cfg Config, src Source, probe Probe, log *slog.Logger) *Monitor {
	cfg = cfg.WithDefaults()
	if err := cfg.Validate(); err != nil {
		panic(fmt.Sprintf("zonehealth.New: %v", err))
	}
	return &Monitor{
		cfg: cfg, src: src, probe: probe, now: time.Now,
		next:    map[string]int{},
		det:     newDetector(cfg, log),
		changed: make(chan struct{}),
	}
}

// Impaired returns the zones currently impaired (at most one), sorted.
func (m *Monitor) Impaired() []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.det.impaired()
}

// Changed returns a channel closed on the next change of Impaired.
func (m *Monitor) Changed() <-chan struct{} {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.changed
}

// States returns every zone probed so far, sorted by zone.
func (m *Monitor) States() []ZoneState {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.det.states()
}

func (m *Monitor) observe(round map[string][]result) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.det.observe(round, m.now()) {
		close(m.changed)
		m.changed = make(chan struct{})
	}
}
