package zonehealth

import (
	"errors"
	"fmt"
	"os"
	"syscall"
	"testing"
	"time"
)

func TestClassify(t *testing.T) {
	ms := time.Millisecond
	cases := []struct {
		name string
		r    result
		want verdict
	}{
		{"fast", result{latency: ms}, good},
		{"at the limit", result{latency: 100 * ms}, good},
		{"over the limit", result{latency: 101 * ms}, slow},
		{"refused", refusals(1)[0], ignored},
		{"context deadline", timeouts(1)[0], timedOut},
		{"i/o deadline", result{err: fmt.Errorf("read: %w", os.ErrDeadlineExceeded)}, timedOut},
		{"reset", resets(1)[0], failed},
		{"handshake failure", result{err: errors.New("tls: handshake failure")}, failed},
		{"bare ECONNREFUSED, not wrapped in ErrRefused", result{err: syscall.ECONNREFUSED}, failed},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := classify(tc.r, 100*ms); got != tc.want {
				t.Errorf("classify = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestSlowLimit(t *testing.T) {
	ms := time.Millisecond
	cases := []struct {
		name   string
		others []time.Duration
		want   time.Duration
	}{
		{"no comparison", nil, 100 * ms},
		{"fast others", []time.Duration{ms, 2 * ms, 3 * ms}, 100 * ms},
		{"slow others", []time.Duration{300 * ms, 100 * ms, 400 * ms}, 900 * ms},
		{"even count takes the mean of the middle two", []time.Duration{40 * ms, 60 * ms}, 150 * ms},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := slowLimit(tc.others, 100*ms); got != tc.want {
				t.Errorf("slowLimit = %s, want %s", got, tc.want)
			}
		})
	}
}

func TestJudgeRoundComparesWithOtherZones(t *testing.T) {
	ms := time.Millisecond
	// b's own slow probes must not raise its bar: only a's and c's count.
	r := round{"a": oks(ms, 3), "b": oks(250*ms, 6), "c": oks(2*ms, 1)}
	tallies := judgeRound(r, 100*ms)
	if got := tallies["b"]; got.slow != 6 || !got.isBad() {
		t.Errorf("zone b: %+v, want 6 slow probes and a bad round", got)
	}
	for _, zone := range []string{"a", "c"} {
		if got := tallies[zone]; got.isBad() {
			t.Errorf("zone %s: %+v, want a good round", zone, got)
		}
	}
}

func TestTallySummary(t *testing.T) {
	cases := []struct {
		t    tally
		want string
	}{
		{tally{probes: 3}, "0 of 3 probes bad"},
		{tally{probes: 3, timeout: 3}, "3 of 3 probes timed out"},
		{tally{probes: 5, refused: 1, slow: 2}, "2 of 4 probes slow"},
		{tally{probes: 4, slow: 2, timeout: 1, failed: 1}, "4 of 4 probes bad: 1 timed out, 2 slow, 1 failed"},
	}
	for _, tc := range cases {
		if got := tc.t.summary(); got != tc.want {
			t.Errorf("%+v: summary %q, want %q", tc.t, got, tc.want)
		}
	}
}
