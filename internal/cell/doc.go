// Package cell owns what a cell does: the cluster controller that turns each Cluster
// in the cell's store into a running control plane (and tears it down), etcd care
// that keeps each running control plane's etcd measured, compacted, defragmented
// and out of the NOSPACE alarm, and the
// agent that pulls the cell's clusters from the region's store and pushes their
// status back. Pull, so a cell keeps healing its clusters while the region is down.
package cell
