package zonehealth

import (
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"time"
)

// outcome is what one round means for one zone's record.
type outcome int

const (
	skipped outcome = iota // nothing counted, or a round that cannot tell
	goodRound
	badRound
)

// zoneRecord is everything the detector remembers about one zone.
type zoneRecord struct {
	window     []bool // the last Window counted rounds, oldest first; true is bad
	impaired   bool
	blocked    bool // would be impaired, but another zone already is
	since      time.Time
	goodStreak int
	last       tally // the latest round the zone was probed in
	lastBad    tally // the latest bad round, which explains an impairment
	reason     string
}

func (r *zoneRecord) badRounds() int {
	n := 0
	for _, bad := range r.window {
		if bad {
			n++
		}
	}
	return n
}

func (r *zoneRecord) state(zone string) ZoneState {
	return ZoneState{
		Zone: zone, Impaired: r.impaired, Since: r.since, BadRounds: r.badRounds(),
		LastP50: r.last.p50, LastErrors: r.last.timeout + r.last.failed,
		LastRefused: r.last.refused, LastProbes: r.last.probes, Reason: r.reason,
	}
}

// detector turns rounds of probe results into impairment decisions. It does
// no I/O and reads no clock, so its rules are tested round by round.
type detector struct {
	cfg   Config
	log   *slog.Logger
	zones map[string]*zoneRecord
}

func newDetector(cfg Config, log *slog.Logger) *detector {
	return &detector{cfg: cfg, log: log, zones: map[string]*zoneRecord{}}
}

// observe takes one round's results by zone and reports whether the set of
// impaired zones changed.
func (d *detector) observe(round map[string][]result, now time.Time) (changed bool) {
	tallies := judgeRound(round, d.cfg.SlowAfter)
	outcomes := d.outcomes(tallies)
	for _, zone := range slices.Sorted(maps.Keys(tallies)) {
		d.record(d.zone(zone, now), tallies[zone], outcomes[zone])
	}
	// Heal first, so a zone held back by another's impairment may take its
	// place in the same round.
	healed := d.heal(now)
	impaired := d.impair(now)
	return healed || impaired
}

func (d *detector) zone(zone string, now time.Time) *zoneRecord {
	r, ok := d.zones[zone]
	if !ok {
		r = &zoneRecord{since: now}
		d.zones[zone] = r
	}
	return r
}

// outcomes decides what the round means for each zone. When two or more
// zones are bad at once the likely cause is the prober or the whole machine,
// so the round counts as good for them: evacuating two zones would be worse
// than evacuating none. An impaired zone is the exception, as such a round
// cannot show that it recovered: it skips the round rather than move toward
// healing while it may still be broken.
func (d *detector) outcomes(tallies map[string]tally) map[string]outcome {
	out := make(map[string]outcome, len(tallies))
	var bad []string
	for zone, t := range tallies {
		switch {
		case t.counted() == 0:
			out[zone] = skipped
		case t.isBad():
			out[zone] = badRound
			bad = append(bad, zone)
		default:
			out[zone] = goodRound
		}
	}
	if len(bad) < 2 {
		return out
	}
	slices.Sort(bad)
	d.log.Debug("several zones bad in one round; blaming the prober, not the zones", "zones", bad)
	for _, zone := range bad {
		out[zone] = goodRound
		if r := d.zones[zone]; r != nil && r.impaired {
			out[zone] = skipped
		}
	}
	return out
}

func (d *detector) record(r *zoneRecord, t tally, o outcome) {
	r.last = t
	if o == skipped {
		return
	}
	bad := o == badRound
	if bad {
		r.lastBad = t
		r.goodStreak = 0
	} else {
		r.goodStreak++
	}
	r.window = append(r.window, bad)
	if len(r.window) > d.cfg.Window {
		r.window = slices.Delete(r.window, 0, 1)
	}
}

func (d *detector) heal(now time.Time) (changed bool) {
	for _, zone := range slices.Sorted(maps.Keys(d.zones)) {
		r := d.zones[zone]
		if !r.impaired || r.goodStreak < d.cfg.HealAfter {
			continue
		}
		r.reason = fmt.Sprintf("healed after %d good rounds in a row", r.goodStreak)
		d.log.Warn("zone healthy again", append([]any{"zone", zone, "reason", r.reason}, figures(r, r.last)...)...)
		// A fresh window: the bad rounds that impaired the zone are history
		// once it proved itself, and must not count toward a relapse.
		r.impaired, r.since, r.window = false, now, nil
		changed = true
	}
	return changed
}

func (d *detector) impair(now time.Time) (changed bool) {
	for _, zone := range slices.Sorted(maps.Keys(d.zones)) {
		r := d.zones[zone]
		if r.impaired {
			continue
		}
		if r.badRounds() < d.cfg.ImpairAfter {
			d.unblock(r)
			continue
		}
		reason := fmt.Sprintf("%d of the last %d rounds bad: %s", r.badRounds(), len(r.window), r.lastBad.summary())
		if other := d.impairedZone(); other != "" {
			d.block(zone, r, other, reason)
			continue
		}
		r.impaired, r.blocked, r.since, r.goodStreak, r.reason = true, false, now, 0, reason
		d.log.Warn("zone impaired", append([]any{"zone", zone, "reason", reason}, figures(r, r.lastBad)...)...)
		changed = true
	}
	return changed
}

// block keeps a second zone in service while another is impaired: taking two
// of three zones out would leave too little to run on. It warns once per
// spell rather than every round.
func (d *detector) block(zone string, r *zoneRecord, other, reason string) {
	r.reason = fmt.Sprintf("%s; not impaired while zone %s is", reason, other)
	if r.blocked {
		return
	}
	r.blocked = true
	d.log.Warn("zone looks impaired but stays in service: another zone already is impaired",
		append([]any{"zone", zone, "impaired", other, "reason", reason}, figures(r, r.lastBad)...)...)
}

func (d *detector) unblock(r *zoneRecord) {
	if r.blocked {
		r.blocked, r.reason = false, ""
	}
}

func (d *detector) impairedZone() string {
	if zones := d.impaired(); len(zones) > 0 {
		return zones[0]
	}
	return ""
}

// impaired lists the impaired zones, sorted.
func (d *detector) impaired() []string {
	var zones []string
	for _, zone := range slices.Sorted(maps.Keys(d.zones)) {
		if d.zones[zone].impaired {
			zones = append(zones, zone)
		}
	}
	return zones
}

func (d *detector) states() []ZoneState {
	states := make([]ZoneState, 0, len(d.zones))
	for _, zone := range slices.Sorted(maps.Keys(d.zones)) {
		states = append(states, d.zones[zone].state(zone))
	}
	return states
}

// figures are the log attributes behind a decision.
func figures(r *zoneRecord, t tally) []any {
	return []any{
		"bad_rounds", r.badRounds(), "window", len(r.window),
		"probes", t.probes, "refused", t.refused, "timed_out", t.timeout,
		"slow", t.slow, "failed", t.failed, "p50", t.p50,
	}
}
