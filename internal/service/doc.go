// Package service composes a whole cellplane on one machine, the embedded default:
// the region (its store and API, in Start) and its cells, each its own process
// (RunCell: a store, a load balancer, cluster controllers, the agent and the
// heartbeat), all on the process runtime. `cellplane up` is a thin layer over
// Start and `cellplane cell run` over RunCell; operator commands use Accounts and
// Cells.
package service
