package rollouts

import (
	"testing"

	"github.com/cellplane/cellplane/api/v1alpha1"
)

func h(req, errs, latSum int64) v1alpha1.ClusterAPIHealth {
	return v1alpha1.ClusterAPIHealth{Requests: req, Errors: errs, LatencyMillisecondsSum: latSum}
}

func TestJudge(t *testing.T) {
	th := Thresholds{MaxErrorPercent: 5, MaxLatencyFactor: 3}
	base := h(100, 1, 99*20) // 1% errors, 20 ms
	start := h(110, 1, 109*20)
	for _, tc := range []struct {
		name      string
		base, now v1alpha1.ClusterAPIHealth
		alarm     string
		enough    bool
		reset     bool
	}{
		{"healthy", base, h(120, 1, 109*20+10*25), "", true, false},
		{"too few probes yet", base, h(112, 2, 109*20+25), "", false, false},
		{"every probe fails", base, h(120, 11, 109*20), AlarmErrorRate, true, false},
		{"one in ten fails: 10 points over 1%", base, h(120, 2, 109*20+9*20), AlarmErrorRate, true, false},
		{"slow: 20 ms to 400 ms", base, h(120, 1, 109*20+10*400), AlarmLatency, true, false},
		{"slower but under the floor: 20 ms to 90 ms", base, h(120, 1, 109*20+10*90), "", true, false},
		{"a baseline that failed as often is no alarm", h(100, 50, 50*20), h(120, 6, 109*20+5*20), "", true, false},
		{"counters went back: the cell restarted", base, h(5, 0, 100), "", false, true},
		{"no baseline at all (new in the cell)", h(0, 0, 0), h(120, 10, 109*20), AlarmErrorRate, true, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			v := Judge(tc.base, start, tc.now, th)
			if v.Alarm != tc.alarm || v.Enough != tc.enough || v.Reset != tc.reset {
				t.Errorf("got %+v, want alarm %q enough %v reset %v", v, tc.alarm, tc.enough, tc.reset)
			}
			if v.Alarm != "" && v.Why == "" {
				t.Error("an alarm without a reason")
			}
		})
	}
}
