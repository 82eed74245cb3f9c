// Package rollouts runs platform rollouts in the region: a PlatformRollout
// moves the clusters of one minor to a platform version wave by wave (a
// canary, then growing shares of each cell, one cell at a time), bakes each
// wave while comparing its clusters' API error rate and latency, as their
// cells measure them, against their own baseline, and rolls a wave back
// when an alarm fires. Every step is recorded in the rollout's status before
// or after it is taken, so a rollout resumes after cellplane is killed.
package rollouts
