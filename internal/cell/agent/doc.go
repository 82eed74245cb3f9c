// Package agent connects a cell to its region: the Agent mirrors the
// clusters the region placed on the cell into the cell's store and pushes
// their status and kubeconfig back, and the Heartbeat reports the cell's
// liveness, capacity, zone health and faults and takes the operator's zone
// shifts and faults from the answer. Pull, so a cell keeps healing its
// clusters while the region is down.
package agent
