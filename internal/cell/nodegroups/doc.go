// Package nodegroups runs the managed node groups of the clusters a cell
// runs. Its Mirror keeps the cell's copy of each region NodeGroup and carries
// the cell's status back; its Reconciler runs the group's nodes through the
// cell's process runtime, spread over the group's zones, each with a node
// credential of its own signed by the cluster's CA, and scales them to the
// group's desired size: down by cordoning and draining a node through the
// eviction API (PodDisruptionBudgets honoured) before its process stops and
// its Node is deleted. Today it runs kubemark hollow nodes (CELLPLANE_HOLLOW);
// a CELLPLANE_KUBELET group reports that this cell offers no real kubelet yet.
package nodegroups
