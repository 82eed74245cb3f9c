// Package lifecycle turns each Cluster in a cell's store into a running
// control plane and tears it down when the Cluster is deleted: its address
// slot, PKI and configs, its processes, its endpoint, its health in status
// and conditions, and its admin kubeconfig. A pass runs in a fixed order
// (fetch, deletion and finalizer, phases, status patched in a deferred call);
// the concerns that take part in it from their own packages (member
// replacement, restores) run at a fixed point through tenant.Concern.
package lifecycle
