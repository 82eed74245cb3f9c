// Package nodegroups serves the regional API's managed node group
// operations, the EKS way: CreateNodegroup, DescribeNodegroup,
// ListNodegroups, UpdateNodegroupConfig, UpdateNodegroupVersion and
// DeleteNodegroup, with their Update records. A node group is a NodeGroup
// object beside its cluster in the region store; the cell that runs the
// cluster mirrors it, runs its nodes and reports their state back, which this
// package turns into the group's status and settles its updates from. It
// checks every input before it changes anything, reads clusters only through
// the Clusters the regional API hands it, and its errors go through the API's
// one wire-error table.
package nodegroups
