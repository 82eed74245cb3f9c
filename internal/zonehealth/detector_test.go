package zonehealth

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"strings"
	"testing"
	"time"
)

var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

// step feeds the detector the same round a number of times.
type step struct {
	round round
	times int
	want  string // the impaired zones after each of these rounds, "" for none
}

// alternate repeats a cycle of steps n times.
func alternate(n int, cycle ...step) []step {
	var steps []step
	for range n {
		steps = append(steps, cycle...)
	}
	return steps
}

func TestDetector(t *testing.T) {
	ms := time.Millisecond
	blackB := with("b", timeouts(3))
	blackA := with("a", timeouts(3))
	cases := []struct {
		name  string
		cfg   Config
		steps []step
	}{
		{name: "blackholed zone impaired after exactly ImpairAfter bad rounds",
			steps: []step{{blackB, 3, ""}, {blackB, 1, "b"}, {blackB, 10, "b"}}},
		{name: "gray failure: slow and lossy",
			steps: []step{{with("b", probes(oks(250*ms, 2), timeouts(1), oks(2*ms, 1))), 3, ""},
				{with("b", probes(oks(240*ms, 1), timeouts(1), oks(260*ms, 1))), 1, "b"}}},
		{name: "slow only",
			steps: []step{{with("b", oks(250*ms, 3)), 3, ""}, {with("b", oks(250*ms, 3)), 1, "b"}}},
		{name: "resets are bad",
			steps: []step{{with("b", resets(3)), 3, ""}, {with("b", resets(3)), 1, "b"}}},
		{name: "most probes bad is a bad round",
			steps: []step{{with("b", probes(timeouts(2), oks(ms, 1))), 3, ""},
				{with("b", probes(timeouts(2), oks(ms, 1))), 1, "b"}}},
		{name: "one hung component of two is not",
			steps: []step{{with("b", probes(timeouts(1), oks(ms, 1))), 30, ""}}},
		{name: "a third of the probes bad is not",
			steps: []step{{with("b", probes(timeouts(1), oks(ms, 2))), 30, ""}}},
		{name: "flapping every other round never impaired",
			steps: alternate(20, step{blackB, 1, ""}, step{healthy(), 1, ""})},
		{name: "flapping three by three never impaired",
			steps: alternate(10, step{blackB, 3, ""}, step{healthy(), 3, ""})},
		{name: "whole machine slow",
			steps: []step{{round{"a": oks(300*ms, 3), "b": oks(300*ms, 3), "c": oks(300*ms, 3)}, 30, ""}}},
		{name: "whole machine slow, one zone a little slower",
			steps: []step{{round{"a": oks(300*ms, 3), "b": oks(600*ms, 3), "c": oks(300*ms, 3)}, 30, ""}}},
		{name: "whole machine stalled past the timeout",
			steps: []step{{round{"a": timeouts(3), "b": timeouts(3), "c": timeouts(3)}, 30, ""}}},
		{name: "slower than the others but under SlowAfter",
			steps: []step{{with("b", oks(90*ms, 3)), 30, ""}}},
		{name: "slow with nothing to compare against: SlowAfter alone",
			steps: []step{{round{"a": refusals(3), "b": oks(150*ms, 3), "c": refusals(3)}, 3, ""},
				{round{"a": refusals(3), "b": oks(150*ms, 3), "c": refusals(3)}, 1, "b"}}},
		{name: "refused-only zone not impaired",
			steps: []step{{with("b", refusals(3)), 30, ""}}},
		{name: "refused probes are not counted",
			steps: []step{{with("b", probes(refusals(2), timeouts(1))), 3, ""},
				{with("b", probes(refusals(2), timeouts(1))), 1, "b"}}},
		{name: "rounds with nothing counted neither gain nor lose",
			steps: []step{{blackB, 3, ""}, {with("b", refusals(3)), 10, ""}, {without("b"), 10, ""}, {blackB, 1, "b"}}},
		{name: "two zones bad at once not impaired",
			steps: []step{{with("a", timeouts(3), "b", timeouts(3)), 30, ""}}},
		{name: "heals only after HealAfter consecutive good rounds",
			steps: []step{{blackB, 3, ""}, {blackB, 1, "b"}, {healthy(), 19, "b"}, {blackB, 1, "b"}, {healthy(), 19, "b"}, {healthy(), 1, ""}}},
		{name: "healing clears the window", cfg: Config{HealAfter: 2},
			steps: []step{{blackB, 3, ""}, {blackB, 1, "b"}, {healthy(), 1, "b"}, {healthy(), 1, ""}, {blackB, 3, ""}, {blackB, 1, "b"}}},
		{name: "only one zone impaired at a time", cfg: Config{HealAfter: 5},
			steps: []step{{blackB, 3, ""}, {blackB, 1, "b"}, {blackA, 4, "b"}, {blackA, 1, "a"}, {blackA, 10, "a"}}},
		{name: "rounds bad in several zones neither heal nor reset an impaired zone", cfg: Config{HealAfter: 3},
			steps: []step{{blackB, 3, ""}, {blackB, 1, "b"}, {healthy(), 2, "b"}, {with("a", timeouts(3), "b", timeouts(3)), 5, "b"},
				{healthy(), 1, ""}}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			d := newDetector(tc.cfg.WithDefaults(), discard)
			n, prev := 0, ""
			for _, s := range tc.steps {
				for range s.times {
					n++
					changed := d.observe(s.round, t0.Add(time.Duration(n)*time.Second))
					got := strings.Join(d.impaired(), ",")
					if got != s.want {
						t.Fatalf("after round %d: impaired %q, want %q", n, got, s.want)
					}
					if changed != (got != prev) {
						t.Fatalf("after round %d: changed = %v going from %q to %q", n, changed, prev, got)
					}
					prev = got
				}
			}
		})
	}
}

func TestDetectorStates(t *testing.T) {
	d := newDetector(Config{}.WithDefaults(), discard)
	rounds := []round{healthy(), healthy()}
	for range 4 {
		rounds = append(rounds, with("b", probes(timeouts(3), refusals(1))))
	}
	for i, r := range rounds {
		d.observe(r, t0.Add(time.Duration(i)*time.Second))
	}
	states := d.states()
	if len(states) != 3 {
		t.Fatalf("got %d zone states, want 3: %+v", len(states), states)
	}
	want := ZoneState{Zone: "b", Impaired: true, Since: t0.Add(5 * time.Second), BadRounds: 4,
		LastErrors: 3, LastRefused: 1, LastProbes: 4,
		Reason: "4 of the last 6 rounds bad: 3 of 3 probes timed out"}
	if states[1] != want {
		t.Errorf("zone b:\n got %+v\nwant %+v", states[1], want)
	}
	wantA := ZoneState{Zone: "a", Since: t0, LastP50: time.Millisecond, LastProbes: 3}
	if states[0] != wantA {
		t.Errorf("zone a:\n got %+v\nwant %+v", states[0], wantA)
	}
}

// TestDetectorLogsTransitions checks every transition is logged at Warn, and a
// zone held back by another's impairment is logged once, not every round.
func TestDetectorLogsTransitions(t *testing.T) {
	var buf bytes.Buffer
	log := slog.New(slog.NewJSONHandler(&buf, nil))
	d := newDetector(Config{HealAfter: 6}.WithDefaults(), log)
	steps := []step{{with("b", timeouts(3)), 4, ""}, {with("a", timeouts(3)), 6, ""}}
	for _, s := range steps {
		for range s.times {
			d.observe(s.round, t0)
		}
	}
	want := []string{
		"WARN zone impaired b 4 of the last 4 rounds bad: 3 of 3 probes timed out",
		"WARN zone looks impaired but stays in service: another zone already is impaired a 4 of the last 6 rounds bad: 3 of 3 probes timed out",
		"WARN zone healthy again b healed after 6 good rounds in a row",
		"WARN zone impaired a 6 of the last 6 rounds bad: 3 of 3 probes timed out",
	}
	var got []string
	for line := range strings.Lines(buf.String()) {
		var rec struct{ Level, Msg, Zone, Reason string }
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			t.Fatalf("log line %q: %v", line, err)
		}
		got = append(got, strings.Join([]string{rec.Level, rec.Msg, rec.Zone, rec.Reason}, " "))
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("logs:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}
