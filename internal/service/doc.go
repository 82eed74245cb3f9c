// Package service composes a whole cellplane on one machine, the embedded default:
// the region (its store and API) and its cells (each with its own store, load
// balancer, controllers and agent) on the process runtime. `cellplane up` is a thin
// layer over Start, and tests start it in-process or as a binary.
package service
