package rollouts

import (
	"errors"
	"fmt"
	"testing"

	"github.com/cellplane/cellplane/api/v1alpha1"
)

func cands(cell string, n int) []Candidate {
	var out []Candidate
	for i := range n {
		out = append(out, Candidate{Namespace: "acct", Name: fmt.Sprintf("%s-%d", cell, i), ClusterName: fmt.Sprintf("%s-%d", cell, i)})
	}
	return out
}

// shape is each wave as "name:count".
func shape(ws []v1alpha1.RolloutWave) []string {
	var out []string
	for _, w := range ws {
		out = append(out, fmt.Sprintf("%s:%d", w.Name, len(w.Targets)))
	}
	return out
}

func TestPlanWaves(t *testing.T) {
	for _, tc := range []struct {
		name     string
		byCell   map[string][]Candidate
		percents []int32
		want     []string
	}{
		{"two cells of two, defaults", map[string][]Candidate{"cell-1": cands("cell-1", 2), "cell-2": cands("cell-2", 2)}, nil,
			// cell-1: canary, then 10% and 50% are reached already, 100% takes the other.
			[]string{"canary:1", "cell-1 100%:1", "cell-2 10%:1", "cell-2 100%:1"}},
		{"ten and twenty", map[string][]Candidate{"cell-1": cands("cell-1", 10), "cell-2": cands("cell-2", 20)}, []int32{10, 50, 100},
			[]string{"canary:1", "cell-1 50%:4", "cell-1 100%:5", "cell-2 10%:2", "cell-2 50%:8", "cell-2 100%:10"}},
		{"first cell empty: the canary is in the second", map[string][]Candidate{"cell-2": cands("cell-2", 3)}, []int32{100},
			[]string{"canary:1", "cell-2 100%:2"}},
		{"nothing to move", map[string][]Candidate{}, nil, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := shape(PlanWaves([]string{"cell-1", "cell-2"}, tc.byCell, tc.percents))
			if fmt.Sprint(got) != fmt.Sprint(tc.want) {
				t.Errorf("waves %v, want %v", got, tc.want)
			}
		})
	}
}

func TestPlanWavesCoversEveryClusterOnce(t *testing.T) {
	byCell := map[string][]Candidate{"cell-1": cands("cell-1", 7), "cell-2": cands("cell-2", 13)}
	seen := map[string]int{}
	for _, w := range PlanWaves([]string{"cell-2", "cell-1"}, byCell, []int32{5, 30, 100}) {
		if w.Phase != v1alpha1.WavePending || len(w.Targets) == 0 {
			t.Errorf("wave %s: phase %s, %d targets", w.Name, w.Phase, len(w.Targets))
		}
		for _, tg := range w.Targets {
			seen[tg.Name]++
		}
	}
	if len(seen) != 20 {
		t.Errorf("%d clusters reached, want 20", len(seen))
	}
	for n, k := range seen {
		if k != 1 {
			t.Errorf("%s in %d waves", n, k)
		}
	}
}

func TestValidatePercents(t *testing.T) {
	for _, p := range [][]int32{nil, {100}, {10, 50, 100}, {1, 2, 100}} {
		if err := ValidatePercents(p); err != nil {
			t.Errorf("%v: %v", p, err)
		}
	}
	for _, p := range [][]int32{{50}, {10, 10, 100}, {50, 10, 100}, {0, 100}, {10, 101}, {-5, 100}} {
		if err := ValidatePercents(p); !errors.Is(err, ErrBadWaves) {
			t.Errorf("%v: got %v, want ErrBadWaves", p, err)
		}
	}
}
