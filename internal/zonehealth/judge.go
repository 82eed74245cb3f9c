package zonehealth

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
)

// result is one probe's outcome as the detector sees it.
type result struct {
	latency time.Duration
	err     error
}

// verdict is how one probe counts toward its zone's round.
type verdict int

const (
	ignored verdict = iota // refused: the component is down, not the zone
	good
	slow
	timedOut
	failed // reset, handshake alert and the like
)

// tally is one zone's round in figures.
type tally struct {
	probes  int // all probes made, refused ones included
	refused int
	slow    int
	timeout int
	failed  int
	p50     time.Duration // of the successful probes
}

func (t tally) counted() int { return t.probes - t.refused }
func (t tally) bad() int     { return t.slow + t.timeout + t.failed }

// isBad is true when most of the counted probes are bad. A zone's network
// failing shows in every probe into it (a blackhole times them all out, added
// latency slows them all); one hung component among two, a process problem
// the supervisor handles, must not evacuate the zone.
func (t tally) isBad() bool { return t.counted() > 0 && 2*t.bad() > t.counted() }

// summary puts the round in words, e.g. "3 of 3 probes timed out".
func (t tally) summary() string {
	kinds := []struct {
		n    int
		what string
	}{{t.timeout, "timed out"}, {t.slow, "slow"}, {t.failed, "failed"}}
	var parts, whats []string
	for _, k := range kinds {
		if k.n > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", k.n, k.what))
			whats = append(whats, k.what)
		}
	}
	switch len(parts) {
	case 0:
		return fmt.Sprintf("0 of %d probes bad", t.counted())
	case 1:
		return fmt.Sprintf("%d of %d probes %s", t.bad(), t.counted(), whats[0])
	}
	return fmt.Sprintf("%d of %d probes bad: %s", t.bad(), t.counted(), strings.Join(parts, ", "))
}

// judgeRound tallies every zone of one round. Each zone is measured against
// the other zones of the same round, so a machine that is slow everywhere at
// once, as a busy CI runner is, makes no zone look slow.
func judgeRound(round map[string][]result, slowAfter time.Duration) map[string]tally {
	tallies := make(map[string]tally, len(round))
	for zone, results := range round {
		limit := slowLimit(othersLatencies(round, zone), slowAfter)
		tallies[zone] = tallyZone(results, limit)
	}
	return tallies
}

// slowLimit is the latency above which a probe is slow: SlowAfter, or 3x the
// other zones' median when that is higher. With nothing to compare against,
// SlowAfter alone applies.
func slowLimit(others []time.Duration, slowAfter time.Duration) time.Duration {
	if len(others) == 0 {
		return slowAfter
	}
	return max(slowAfter, 3*median(others))
}

func othersLatencies(round map[string][]result, zone string) []time.Duration {
	var ds []time.Duration
	for z, results := range round {
		if z != zone {
			ds = append(ds, successes(results)...)
		}
	}
	return ds
}

func successes(results []result) []time.Duration {
	var ds []time.Duration
	for _, r := range results {
		if r.err == nil {
			ds = append(ds, r.latency)
		}
	}
	return ds
}

func tallyZone(results []result, limit time.Duration) tally {
	t := tally{probes: len(results), p50: median(successes(results))}
	for _, r := range results {
		switch classify(r, limit) {
		case ignored:
			t.refused++
		case slow:
			t.slow++
		case timedOut:
			t.timeout++
		case failed:
			t.failed++
		}
	}
	return t
}

func classify(r result, limit time.Duration) verdict {
	switch {
	case errors.Is(r.err, ErrRefused):
		return ignored
	case r.err != nil && isTimeout(r.err):
		return timedOut
	case r.err != nil:
		return failed
	case r.latency > limit:
		return slow
	}
	return good
}

// median of ds, 0 for none.
func median(ds []time.Duration) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Sorted(slices.Values(ds))
	n := len(s)
	if n%2 == 1 {
		return s[n/2]
	}
	return (s[n/2-1] + s[n/2]) / 2
}
