package zonehealth

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// answer is how a fake probe replies.
type answer func(ctx context.Context) (time.Duration, error)

func fast(context.Context) (time.Duration, error) { return time.Millisecond, nil }

// blackhole never answers, so the probe runs into its timeout.
func blackhole(ctx context.Context) (time.Duration, error) {
	<-ctx.Done()
	return 0, ctx.Err()
}

// script is a fake Probe that replies per zone as the test sets it, and
// counts the probes in flight so tests can see none outlive Run.
type script struct {
	mu       sync.Mutex
	byZone   map[string]answer
	inFlight atomic.Int32
}

func newScript(a answer) *script {
	return &script{byZone: map[string]answer{"a": a, "b": a, "c": a}}
}

func (s *script) set(zone string, a answer) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.byZone[zone] = a
}

func (s *script) probe(ctx context.Context, t Target) (time.Duration, error) {
	s.inFlight.Add(1)
	defer s.inFlight.Add(-1)
	if _, ok := ctx.Deadline(); !ok {
		return 0, errors.New("probe without a deadline")
	}
	s.mu.Lock()
	a := s.byZone[t.Zone]
	s.mu.Unlock()
	return a(ctx)
}

func targets(perZone int) Source {
	var ts []Target
	for _, zone := range []string{"a", "b", "c"} {
		for i := range perZone {
			ts = append(ts, Target{Zone: zone, Name: fmt.Sprintf("%s%d", zone, i), Addr: fmt.Sprintf("%s%d:443", zone, i)})
		}
	}
	return func() []Target { return ts }
}

// start runs m until the test ends, and checks that Run returns with no
// probe left in flight.
func start(t *testing.T, m *Monitor, s *script) (stop func()) {
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan struct{})
	go func() {
		defer close(done)
		m.Run(ctx)
	}()
	stop = sync.OnceFunc(func() {
		cancel()
		waitFor(t, "Run to return", func() bool { return closed(done) })
		if n := s.inFlight.Load(); n != 0 {
			t.Errorf("%d probes still in flight after Run returned", n)
		}
	})
	t.Cleanup(stop)
	return stop
}

func testLogger(t *testing.T) *slog.Logger {
	return slog.New(slog.NewTextHandler(t.Output(), nil))
}

var quick = Config{Interval: 5 * time.Millisecond, Timeout: 20 * time.Millisecond,
	SlowAfter: 10 * time.Millisecond, ImpairAfter: 2, Window: 3, HealAfter: 3}

func TestMonitorImpairsAndHeals(t *testing.T) {
	s := newScript(fast)
	m := New(quick, targets(3), s.probe, testLogger(t))
	start(t, m, s)
	waitFor(t, "a first round", func() bool { return len(m.States()) == 3 })

	changed := m.Changed()
	s.set("b", blackhole)
	waitFor(t, "zone b impaired", func() bool { return closed(changed) })
	if got := m.Impaired(); !slices.Equal(got, []string{"b"}) {
		t.Fatalf("Impaired = %v, want [b]", got)
	}
	if st := m.States()[1]; !st.Impaired || st.LastErrors != 3 || st.Reason == "" {
		t.Errorf("zone b state %+v, want impaired with 3 errors and a reason", st)
	}

	changed = m.Changed()
	s.set("b", fast)
	waitFor(t, "zone b healed", func() bool { return closed(changed) })
	if got := m.Impaired(); len(got) != 0 {
		t.Fatalf("Impaired = %v, want none", got)
	}
}

// TestRunReturnsMidRound stops Run while its probes hang: Run must cancel
// them, wait for them, and not count the cut-short round.
func TestRunReturnsMidRound(t *testing.T) {
	s := newScript(blackhole)
	cfg := quick
	cfg.Timeout = time.Minute // so only the cancellation ends the probes
	m := New(cfg, targets(2), s.probe, testLogger(t))
	stop := start(t, m, s)
	waitFor(t, "the first round's probes", func() bool { return s.inFlight.Load() == 6 })
	stop()
	if st := m.States(); len(st) != 0 {
		t.Errorf("States = %+v after a round cut short, want none", st)
	}
}

func TestPickRotates(t *testing.T) {
	m := New(Config{MaxTargetsPerZone: 3}, nil, nil, discard)
	var ts []Target
	for i := range 5 {
		ts = append(ts, Target{Zone: "a", Name: fmt.Sprint(i)})
	}
	ts = append(ts, Target{Zone: "b", Name: "0"}, Target{Zone: "b", Name: "1"})
	cases := []struct{ want []string }{
		{[]string{"a0", "b0", "a1", "b1", "a2"}},
		{[]string{"a3", "b0", "a4", "b1", "a0"}},
		{[]string{"a1", "b0", "a2", "b1", "a3"}},
	}
	for i, tc := range cases {
		// A fresh copy in a shuffled order each round, as a Source may return.
		round := slices.Clone(ts)
		slices.Reverse(round)
		var got []string
		for _, tg := range m.pick(round) {
			got = append(got, tg.Zone+tg.Name)
		}
		if !slices.Equal(got, tc.want) {
			t.Errorf("round %d: picked %v, want %v", i, got, tc.want)
		}
	}
}
