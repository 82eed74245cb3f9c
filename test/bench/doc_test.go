// Package bench holds cellplane's benchmarks against real components. Run them with
// `make bench`; record what they print in docs/performance.md.
package bench
