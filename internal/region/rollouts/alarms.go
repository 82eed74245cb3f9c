package rollouts

import (
	"fmt"

	"github.com/cellplane/cellplane/api/v1alpha1"
)

// Kinds of alarm.
const (
	AlarmNotHealthy = "NotHealthy"
	AlarmErrorRate  = "ErrorRate"
	AlarmLatency    = "Latency"
)

// MinBakeRequests is how many probes a cluster needs since its bake started
// before it is judged, or its bake may end.
const MinBakeRequests = 3

// latencyFloorMs: a mean latency under it never alarms, however many times
// its baseline it is (a 2 ms baseline makes 7 ms no problem).
const latencyFloorMs = 100

// Thresholds are a rollout's alarm limits.
type Thresholds struct {
	MaxErrorPercent  int32
	MaxLatencyFactor int32
}

// Verdict is what Judge made of one cluster.
type Verdict struct {
	// Reset: the counters went back (the cell's controllers restarted);
	// the bake's start point must be taken again.
	Reset bool
	// Enough: the bake has seen MinBakeRequests probes.
	Enough bool
	// Alarm is AlarmErrorRate or AlarmLatency when one fires, with Why.
	Alarm, Why string
}

// Judge compares a cluster's API during the bake (now minus bakeStart)
// with its baseline (the counters when the wave started, which sum up the
// cluster's life in the cell before it): the error rate may rise by at most
// MaxErrorPercent points, the mean latency may reach at most
// MaxLatencyFactor times the baseline's, above a floor.
func Judge(baseline, bakeStart, now v1alpha1.ClusterAPIHealth, th Thresholds) Verdict {
	if now.Requests < bakeStart.Requests || now.Errors < bakeStart.Errors {
		return Verdict{Reset: true}
	}
	d := v1alpha1.ClusterAPIHealth{Requests: now.Requests - bakeStart.Requests, Errors: now.Errors - bakeStart.Errors,
		LatencyMillisecondsSum: now.LatencyMillisecondsSum - bakeStart.LatencyMillisecondsSum}
	if d.Requests < MinBakeRequests {
		return Verdict{}
	}
	v := Verdict{Enough: true}
	baseErr, curErr := errorPercent(baseline), errorPercent(d)
	if curErr-baseErr > float64(th.MaxErrorPercent) {
		v.Alarm = AlarmErrorRate
		v.Why = fmt.Sprintf("API error rate %.0f%% (%d of %d probes) against a baseline of %.1f%%, more than %d points over",
			curErr, d.Errors, d.Requests, baseErr, th.MaxErrorPercent)
		return v
	}
	baseLat, curLat := meanLatency(baseline), meanLatency(d)
	if curLat > latencyFloorMs && baseLat > 0 && curLat > baseLat*float64(th.MaxLatencyFactor) {
		v.Alarm = AlarmLatency
		v.Why = fmt.Sprintf("API mean latency %.0f ms against a baseline of %.0f ms, more than %d times it",
			curLat, baseLat, th.MaxLatencyFactor)
	}
	return v
}

func errorPercent(h v1alpha1.ClusterAPIHealth) float64 {
	if h.Requests == 0 {
		return 0
	}
	return 100 * float64(h.Errors) / float64(h.Requests)
}

func meanLatency(h v1alpha1.ClusterAPIHealth) float64 {
	ok := h.Requests - h.Errors
	if ok <= 0 {
		return 0
	}
	return float64(h.LatencyMillisecondsSum) / float64(ok)
}
