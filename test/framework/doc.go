// Package framework is the shared harness of cellplane's end-to-end tests and
// benchmarks: it builds the cellplane binary and the pinned components once, starts
// `cellplane up` instances on their own data directories and address blocks, runs
// the CLI and kubectl against them, and cleans up every process they started, by PID.
package framework
