// Package nodegroups runs the managed node groups of the clusters a cell
// runs. Its Mirror keeps the cell's copy of each region NodeGroup and carries
// the cell's status back; its Reconciler runs the group's nodes through the
// cell's process runtime, spread over the group's zones, each with a node
// credential of its own signed by the cluster's CA, and scales them to the
// group's desired size: down by cordoning and draining a node through the
// eviction API (PodDisruptionBudgets honoured) before its process stops and
// its Node is deleted. It runs two kinds of node: kubemark hollow nodes
// (CELLPLANE_HOLLOW), and real ones (CELLPLANE_KUBELET), each a machine of
// package machine run by `cellplane node-machine` under the runtime, with
// host-wide unique addresses from package nodeaddr, joining by TLS
// bootstrap with a bootstrap token per group. For real nodes it is also
// the cluster's approver of kubelet serving certificates (package
// csrapproval): only nodes of the cluster's groups, at their own addresses.
package nodegroups
