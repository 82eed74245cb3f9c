package lb

import (
	"log/slog"
	"slices"
	"testing"
)

func TestRankCandidates(t *testing.T) {
	type in struct {
		name   string
		state  HealthState
		active int
	}
	tests := []struct {
		name string
		in   []in
		want []string
	}{
		{"fewest connections first", []in{{"a", StateHealthy, 3}, {"b", StateHealthy, 1}, {"c", StateHealthy, 2}}, []string{"b", "c", "a"}},
		{"ties keep the rotated order", []in{{"b", StateHealthy, 0}, {"a", StateHealthy, 0}}, []string{"b", "a"}},
		{"unhealthy last", []in{{"a", StateUnhealthy, 0}, {"b", StateHealthy, 5}, {"c", StateUnknown, 7}}, []string{"b", "c", "a"}},
		{"unknown after every healthy", []in{{"a", StateUnknown, 0}, {"b", StateHealthy, 9}}, []string{"b", "a"}},
		{"unknown when nothing is healthy", []in{{"a", StateUnhealthy, 0}, {"b", StateUnknown, 2}, {"c", StateUnknown, 1}}, []string{"c", "b", "a"}},
		{"unhealthy as a last resort", []in{{"a", StateUnhealthy, 3}, {"b", StateUnhealthy, 1}}, []string{"b", "a"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var cands []candidate
			for _, c := range tt.in {
				b := newBackend(BackendConfig{Name: c.name}, slog.New(slog.DiscardHandler))
				cands = append(cands, candidate{b: b, state: c.state, active: c.active})
			}
			if got := names(rankCandidates(cands)); !slices.Equal(got, tt.want) {
				t.Errorf("ranked %v, want %v", got, tt.want)
			}
		})
	}
}

func TestRankBackendsRotatesTies(t *testing.T) {
	log := slog.New(slog.DiscardHandler)
	var backends []*backend
	for _, n := range []string{"a", "b", "c"} {
		b := newBackend(BackendConfig{Name: n}, log)
		b.health.state = StateHealthy
		backends = append(backends, b)
	}
	var firsts []string
	for start := range 3 {
		firsts = append(firsts, rankBackends(backends, start)[0].name)
	}
	if !slices.Equal(firsts, []string{"a", "b", "c"}) {
		t.Errorf("first picks %v, want each backend in turn", firsts)
	}
}

func names(bs []*backend) []string {
	out := []string{}
	for _, b := range bs {
		out = append(out, b.name)
	}
	return out
}
