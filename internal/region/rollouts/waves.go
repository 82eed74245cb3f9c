package rollouts

import (
	"errors"
	"fmt"
	"math"

	"github.com/cellplane/cellplane/api/v1alpha1"
)

// DefaultWavePercents are the shares of each cell the waves reach.
var DefaultWavePercents = []int32{10, 50, 100}

// Defaults of a rollout's timing and alarms.
const (
	DefaultBakeSeconds      = 300
	DefaultApplySeconds     = 600
	DefaultMaxErrorPercent  = 5
	DefaultMaxLatencyFactor = 3
)

// ErrBadWaves is wrapped by ValidatePercents' errors.
var ErrBadWaves = errors.New("bad wave percents")

// ValidatePercents checks wave shares: growing, each 1 to 100, ending at 100.
func ValidatePercents(p []int32) error {
	if len(p) == 0 {
		return nil // the defaults
	}
	prev := int32(0)
	for _, v := range p {
		if v <= prev || v > 100 {
			return fmt.Errorf("%w: %v: each must be more than the one before, from 1 to 100", ErrBadWaves, p)
		}
		prev = v
	}
	if prev != 100 {
		return fmt.Errorf("%w: %v: the last must be 100, so every cluster is reached", ErrBadWaves, p)
	}
	return nil
}

// Candidate is a cluster a rollout may move.
type Candidate struct {
	Namespace, Name, ClusterName string
	// Previous is the cluster's spec.platformVersion.
	Previous string
}

// PlanWaves lays out the waves over cells in order, byCell holding each
// cell's candidates in a stable order: the first candidate of the first cell
// that has any is the canary; then each cell in turn gets one wave per share,
// a wave holding the clusters that bring the cell up to that share (rounded
// up). Empty waves are left out.
func PlanWaves(cells []string, byCell map[string][]Candidate, percents []int32) []v1alpha1.RolloutWave {
	if len(percents) == 0 {
		percents = DefaultWavePercents
	}
	var waves []v1alpha1.RolloutWave
	canaryDone := false
	for _, cell := range cells {
		cands := byCell[cell]
		done := 0
		if !canaryDone && len(cands) > 0 {
			waves = append(waves, wave("canary", cell, 0, cands[:1]))
			canaryDone, done = true, 1
		}
		for _, p := range percents {
			upto := int(math.Ceil(float64(len(cands)) * float64(p) / 100))
			if upto <= done {
				continue
			}
			waves = append(waves, wave(fmt.Sprintf("%s %d%%", cell, p), cell, p, cands[done:upto]))
			done = upto
		}
	}
	return waves
}

func wave(name, cell string, percent int32, cands []Candidate) v1alpha1.RolloutWave {
	w := v1alpha1.RolloutWave{Name: name, Cell: cell, Percent: percent, Phase: v1alpha1.WavePending}
	for _, c := range cands {
		w.Targets = append(w.Targets, v1alpha1.RolloutTarget{Namespace: c.Namespace, Name: c.Name,
			ClusterName: c.ClusterName, Previous: c.Previous})
	}
	return w
}
