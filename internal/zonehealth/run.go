package zonehealth

import (
	"cmp"
	"context"
	"maps"
	"slices"
	"sync"
	"time"
)

// maxInFlight caps one round's concurrent probes. A round holds at most
// MaxTargetsPerZone targets per zone, so with a cell's three zones the cap
// does not bind; it guards against a Source that reports many zones.
const maxInFlight = 32

// Run probes in rounds until ctx ends, and returns once the last round's
// probes have. Call it once per Monitor. A round lasts as long as its slowest
// probe (at most Timeout); the next starts on the next Interval tick.
func (m *Monitor) Run(ctx context.Context) {
	tick := time.NewTicker(m.cfg.Interval)
	defer tick.Stop()
	for {
		m.round(ctx)
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

func (m *Monitor) round(ctx context.Context) {
	round := m.probeAll(ctx, m.pick(m.src()))
	if ctx.Err() != nil {
		return // a round cut short by shutdown says nothing about the zones
	}
	m.observe(round)
}

// probeAll probes targets concurrently, so every zone is measured under the
// same load on the machine, and returns the results by zone.
func (m *Monitor) probeAll(ctx context.Context, targets []Target) map[string][]result {
	results := make([]result, len(targets))
	sem := make(chan struct{}, maxInFlight)
	var wg sync.WaitGroup
	for i, t := range targets {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			results[i] = m.probeOne(ctx, t)
		})
	}
	wg.Wait()
	round := map[string][]result{}
	for i, t := range targets {
		round[t.Zone] = append(round[t.Zone], results[i])
	}
	return round
}

func (m *Monitor) probeOne(ctx context.Context, t Target) result {
	ctx, cancel := context.WithTimeout(ctx, m.cfg.Timeout)
	defer cancel()
	d, err := m.probe(ctx, t)
	return result{latency: d, err: err}
}

// pick chooses this round's targets, zone by zone in turn, so that should
// maxInFlight ever bind no zone waits behind all of another's probes.
func (m *Monitor) pick(targets []Target) []Target {
	byZone := map[string][]Target{}
	for _, t := range targets {
		byZone[t.Zone] = append(byZone[t.Zone], t)
	}
	var perZone [][]Target
	for _, zone := range slices.Sorted(maps.Keys(byZone)) {
		perZone = append(perZone, m.rotate(zone, byZone[zone]))
	}
	return interleave(perZone)
}

// rotate picks up to MaxTargetsPerZone of one zone's targets, starting where
// the previous round stopped, so each is probed in turn however many there
// are while a round's cost stays fixed.
func (m *Monitor) rotate(zone string, ts []Target) []Target {
	slices.SortFunc(ts, func(a, b Target) int {
		return cmp.Or(cmp.Compare(a.Name, b.Name), cmp.Compare(a.Addr, b.Addr))
	})
	n := min(len(ts), m.cfg.MaxTargetsPerZone)
	start := m.next[zone] % len(ts)
	m.next[zone] = (start + n) % len(ts)
	picked := make([]Target, 0, n)
	for i := range n {
		picked = append(picked, ts[(start+i)%len(ts)])
	}
	return picked
}

func interleave(lists [][]Target) []Target {
	var out []Target
	for i := 0; ; i++ {
		added := false
		for _, l := range lists {
			if i < len(l) {
				out = append(out, l[i])
				added = true
			}
		}
		if !added {
			return out
		}
	}
}
